import { Injectable } from '@nestjs/common';
import type { Pool, PoolClient } from 'pg';
import { DataSource } from 'typeorm';

import type { ExportQuery } from 'src/modules/reports/export-queries';
import { poolOf } from 'src/platform/database/pool';

/** Rows fetched per round trip: the most an export holds in memory at once. */
export const EXPORT_BATCH = 1_000;
/** A client that reads nothing for this long loses its export (and its snapshot stops holding back vacuum). */
const EXPORT_IDLE_LIMIT = '10min';
const EXPORT_STATEMENT_LIMIT = '5min';

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
    this.pool = poolOf(dataSource);
  }

  /** `onLost` is told when the connection fails between fetches (the server ended the session). */
  async open(query: ExportQuery, onLost: (error: Error) => void): Promise<ExportCursor> {
    const client = await this.pool.connect();
    // A checked-out client has no pool listener: an error with none would crash the process.
    client.on('error', onLost);
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      // A client may read slowly: the session's idle-in-transaction limit (a minute) would end the export,
      // so it gets EXPORT_IDLE_LIMIT between fetches, and a first batch as long as a sort of the table takes.
      await client.query(
        `SET LOCAL idle_in_transaction_session_timeout = '${EXPORT_IDLE_LIMIT}'; SET LOCAL statement_timeout = '${EXPORT_STATEMENT_LIMIT}'`,
      );
      await client.query(`DECLARE export_rows NO SCROLL CURSOR FOR ${query.sql}`, [
        ...query.params,
      ]);
    } catch (error) {
      client.off('error', onLost);
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
          client.off('error', onLost);
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
