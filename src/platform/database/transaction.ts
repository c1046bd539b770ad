import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { EntityManager } from 'typeorm';

/**
 * The one way services open a transaction (READ COMMITTED): one per mutation, holding its rows, its outbox
 * event and its audit row. Repositories take the `tx` it passes; they never open transactions themselves.
 */
@Injectable()
export class Transactions {
  constructor(private readonly dataSource: DataSource) {}

  run<T>(work: (tx: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }
}
