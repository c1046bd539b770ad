import { Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { EntityManager } from 'typeorm';

/**
 * Told once a transaction has committed and given its connection back. It returns at once: work it
 * starts runs on its own, and the transaction's caller does not wait for it.
 */
export type AfterCommit = () => void;

// queryRunner.data key of the transaction's after-commit hooks.
const HOOKS = 'tessera.afterCommit';

/**
 * Runs `hook` after `tx` commits, once however often it is registered (by reference), and not at all if
 * `tx` rolls back. `tx` must come from Transactions.run: another transaction has no hooks, and this throws.
 */
export function afterCommit(tx: EntityManager, hook: AfterCommit): void {
  const hooks = tx.queryRunner?.data[HOOKS] as Set<AfterCommit> | undefined;
  if (hooks === undefined) {
    throw new Error('afterCommit needs a transaction opened by Transactions.run');
  }
  hooks.add(hook);
}

/**
 * The one way services open a transaction (READ COMMITTED): one per mutation, holding its rows, its outbox
 * event and its audit row. Repositories take the `tx` it passes; they never open transactions themselves.
 */
@Injectable()
export class Transactions {
  private readonly logger = new Logger(Transactions.name);

  constructor(private readonly dataSource: DataSource) {}

  async run<T>(work: (tx: EntityManager) => Promise<T>): Promise<T> {
    const hooks = new Set<AfterCommit>();
    const result = await this.dataSource.transaction(async (tx) => {
      tx.queryRunner!.data[HOOKS] = hooks;
      try {
        return await work(tx);
      } finally {
        // The query runner goes back to the pool: its next transaction starts with no hooks.
        delete tx.queryRunner!.data[HOOKS];
      }
    });
    // After the connection is released: work a hook starts may need a connection of this pool.
    for (const hook of hooks) {
      try {
        hook();
      } catch (error) {
        // The transaction has committed: its caller gets its answer whatever a hook does.
        this.logger.error({ err: error, msg: 'an after-commit hook failed' });
      }
    }
    return result;
  }
}
