import { Injectable } from '@nestjs/common';
import type { Pool, PoolClient } from 'pg';
import { DataSource } from 'typeorm';

import type { ExportQuery } from 'src/modules/reports/export-queries';

/** Rows fetched per round trip: the most an export holds in memory at once. */
export const EXPORT_BATCH = 1_000;

/** An open server-side cursor over one export, on a connection of its own, in one snapshot. */
export interface ExportCursor {
  /** The next rows (fewer than EXPORT_BATCH: the last batch; none: done). */
  next(): Promise<Array<Record<string, unknown>>>;
  /** Ends the snapshot and gives the connection back; safe to call twice. */
  close(): Promise<void>;
}

/**
 * Exports read through a cursor (DECLARE / FETCH) in a REPEATABLE READ, READ ONLY transaction: constant
 * memory however many rows, and one consistent snapshot however long the client takes to read.
 */
@Injectable()
export class ExportRepository {
  private readonly pool: Pool;

  constructor(dataSource: DataSource) {
    this.pool = (dataSource.driver as unknown as { master: Pool }).master;
  }

  async open(query: ExportQuery): Promise<ExportCursor> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      await client.query(`DECLARE export_rows NO SCROLL CURSOR FOR ${query.sql}`, [
        ...query.params,
      ]);
    } catch (error) {
      await end(client, 'ROLLBACK');
      throw error;
    }
    let closed = false;
    return {
      next: async () => {
        const result = await client.query<Record<string, unknown>>(
          `FETCH ${EXPORT_BATCH} FROM export_rows`,
        );
        return result.rows;
      },
      close: async () => {
        if (!closed) {
          closed = true;
          await end(client, 'COMMIT');
        }
      },
    };
  }
}

/** Ends the transaction and releases the client; a client that cannot end it is discarded. */
async function end(client: PoolClient, command: 'COMMIT' | 'ROLLBACK'): Promise<void> {
  try {
    await client.query(command);
    client.release();
  } catch (error) {
    client.release(error as Error);
  }
}
