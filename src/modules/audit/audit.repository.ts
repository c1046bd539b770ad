import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { EntityManager } from 'typeorm';

import type { ChainedEvent, ChainLink } from 'src/modules/audit/audit-chain';
import type { AuditEventEntity } from 'src/modules/audit/audit-event.entity';

export interface AuditFilter {
  readonly actorType?: string;
  readonly actorId?: string;
  readonly action?: string;
  readonly targetType?: string;
  readonly targetId?: string;
  /** Inclusive. */
  readonly from?: Date;
  /** Exclusive. */
  readonly to?: Date;
}

const COLUMNS = `id, sequence, occurred_at AS "occurredAt", actor_type AS "actorType",
  actor_id AS "actorId", actor_ip AS "actorIp", user_agent AS "userAgent", request_id AS "requestId",
  action, target_type AS "targetType", target_id AS "targetId", changes, metadata,
  prev_hash AS "prevHash", hash`;

/**
 * The audit tables in plain SQL: no entity metadata is needed, so the verify CLI runs on a bare DataSource,
 * and an append costs two statements.
 */
@Injectable()
export class AuditRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** One read-only snapshot for the whole of `work`, however many statements it runs. */
  snapshot<T>(work: (tx: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction('REPEATABLE READ', async (tx) => {
      await tx.query('SET TRANSACTION READ ONLY');
      return work(tx);
    });
  }

  /** Locks the chain head until the caller's transaction ends: appends are serialised on this row. */
  async lockHead(tx: EntityManager): Promise<ChainLink> {
    const rows = await tx.query<{ sequence: string; hash: string }[]>(
      `SELECT sequence, hash FROM audit_chain_head FOR UPDATE`,
    );
    if (rows.length === 0) {
      throw new Error(
        'audit_chain_head has no row: the audit migration did not run or was tampered with',
      );
    }
    return { sequence: Number(rows[0].sequence), hash: rows[0].hash };
  }

  async getHead(tx: EntityManager): Promise<ChainLink | null> {
    const rows = await tx.query<{ sequence: string; hash: string }[]>(
      `SELECT sequence, hash FROM audit_chain_head`,
    );
    return rows.length === 0 ? null : { sequence: Number(rows[0].sequence), hash: rows[0].hash };
  }

  /** The stored hash of each event at the given sequences (absent: no such event). */
  async findHashes(sequences: readonly number[]): Promise<Map<number, string>> {
    const rows = await this.dataSource.query<{ sequence: string; hash: string }[]>(
      `SELECT sequence, hash FROM audit_events WHERE sequence = ANY($1::bigint[])`,
      [sequences],
    );
    return new Map(rows.map((row) => [Number(row.sequence), row.hash]));
  }

  /** Inserts the event and moves the head to it, in one statement. The head must be locked. */
  async append(tx: EntityManager, event: ChainedEvent): Promise<void> {
    await tx.query(
      `WITH inserted AS (
         INSERT INTO audit_events (id, sequence, occurred_at, actor_type, actor_id, actor_ip, user_agent,
           request_id, action, target_type, target_id, changes, metadata, prev_hash, hash)
         VALUES ($1, $2, $3::timestamptz, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13::jsonb, $14, $15)
         RETURNING sequence, hash
       )
       UPDATE audit_chain_head SET sequence = inserted.sequence, hash = inserted.hash FROM inserted`,
      [
        event.id,
        event.sequence,
        event.occurredAt,
        event.actorType,
        event.actorId,
        event.actorIp,
        event.userAgent,
        event.requestId,
        event.action,
        event.targetType,
        event.targetId,
        event.changes === null ? null : JSON.stringify(event.changes),
        JSON.stringify(event.metadata),
        event.prevHash,
        event.hash,
      ],
    );
  }

  /** Up to `limit` events after `afterSequence`, oldest first. */
  findAscending(
    filter: AuditFilter,
    afterSequence: number,
    limit: number,
    tx: EntityManager = this.dataSource.manager,
  ): Promise<AuditEventEntity[]> {
    const params: unknown[] = [afterSequence];
    const where = [`sequence > $1`, ...conditions(filter, params)];
    params.push(limit);
    return tx.query<AuditEventEntity[]>(
      `SELECT ${COLUMNS} FROM audit_events WHERE ${where.join(' AND ')}
       ORDER BY sequence ASC LIMIT $${params.length}`,
      params,
    );
  }

  /** Up to `limit` events before `beforeSequence` (or the newest), newest first. */
  findNewestFirst(
    filter: AuditFilter,
    beforeSequence: number | undefined,
    limit: number,
  ): Promise<AuditEventEntity[]> {
    const params: unknown[] = [];
    const where = conditions(filter, params);
    if (beforeSequence !== undefined) {
      params.push(beforeSequence);
      where.push(`sequence < $${params.length}`);
    }
    params.push(limit);
    return this.dataSource.query<AuditEventEntity[]>(
      `SELECT ${COLUMNS} FROM audit_events ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`}
       ORDER BY sequence DESC LIMIT $${params.length}`,
      params,
    );
  }
}

/** The filter as SQL conditions, appending their values to `params`. */
function conditions(filter: AuditFilter, params: unknown[]): string[] {
  const columns: Array<[string, string | Date | undefined]> = [
    ['actor_type =', filter.actorType],
    ['actor_id =', filter.actorId],
    ['action =', filter.action],
    ['target_type =', filter.targetType],
    ['target_id =', filter.targetId],
    ['occurred_at >=', filter.from],
    ['occurred_at <', filter.to],
  ];
  return columns
    .filter(([, value]) => value !== undefined)
    .map(([condition, value]) => {
      params.push(value);
      return `${condition} $${params.length}`;
    });
}
