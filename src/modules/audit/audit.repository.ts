import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { EntityManager } from 'typeorm';

import type { ChainedEvent, ChainLink, PendingEvent } from 'src/modules/audit/audit-chain';
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
 * The audit tables in plain SQL: no entity metadata is needed, so the verify CLI runs on a bare DataSource;
 * a mutation's audit event costs one INSERT, and linking a batch of them three statements.
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

  /** Locks the chain head until the caller's transaction ends: linkers are serialised on this row. */
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

  /** Writes an event in its mutation's transaction, to be linked into the chain after commit. */
  async addPending(tx: EntityManager, event: PendingEvent): Promise<void> {
    await tx.query(
      `INSERT INTO audit_pending (id, occurred_at, actor_type, actor_id, actor_ip, user_agent, request_id,
         action, target_type, target_id, changes, metadata)
       VALUES ($1, $2::timestamptz, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12::jsonb)`,
      [
        event.id,
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
      ],
    );
  }

  /**
   * Takes up to `limit` committed pending events out of the waiting table, oldest position first, as
   * stored (jsonb as PostgreSQL gives it back, so the hash is computed over what verify will read). The
   * head must be locked: it is what makes this the only linker, so each event is taken exactly once.
   */
  async takePending(tx: EntityManager, limit: number): Promise<PendingEvent[]> {
    // TypeORM answers a DELETE with [rows, count].
    const [rows] = await tx.query<[Array<PendingEvent & { position: string; occurredAt: Date }>]>(
      `DELETE FROM audit_pending WHERE position IN (
         SELECT position FROM audit_pending ORDER BY position LIMIT $1
       )
       RETURNING position, id, occurred_at AS "occurredAt", actor_type AS "actorType",
         actor_id AS "actorId", actor_ip AS "actorIp", user_agent AS "userAgent",
         request_id AS "requestId", action, target_type AS "targetType", target_id AS "targetId",
         changes, metadata`,
      [limit],
    );
    // RETURNING keeps no order.
    rows.sort((a, b) => Number(a.position) - Number(b.position));
    return rows.map(({ position: _position, occurredAt, ...event }) => ({
      ...event,
      occurredAt: occurredAt.toISOString(),
    }));
  }

  /** Appends linked events (consecutive from head + 1) and moves the head onto the last. Head locked. */
  async appendLinked(tx: EntityManager, events: readonly ChainedEvent[]): Promise<void> {
    const column = <K extends keyof ChainedEvent>(key: K) => events.map((event) => event[key]);
    const last = events[events.length - 1];
    // One statement; the head's guard checks at commit that the head is on an event of the chain.
    await tx.query(
      `WITH appended AS (
         INSERT INTO audit_events (id, sequence, occurred_at, actor_type, actor_id, actor_ip, user_agent,
           request_id, action, target_type, target_id, changes, metadata, prev_hash, hash)
         SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::timestamptz[], $4::text[], $5::text[],
           $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::jsonb[],
           $13::jsonb[], $14::text[], $15::text[])
       )
       UPDATE audit_chain_head SET sequence = $16, hash = $17`,
      [
        column('id'),
        column('sequence'),
        column('occurredAt'),
        column('actorType'),
        column('actorId'),
        column('actorIp'),
        column('userAgent'),
        column('requestId'),
        column('action'),
        column('targetType'),
        column('targetId'),
        events.map((event) => (event.changes === null ? null : JSON.stringify(event.changes))),
        events.map((event) => JSON.stringify(event.metadata)),
        column('prevHash'),
        column('hash'),
        last.sequence,
        last.hash,
      ],
    );
  }

  /** Whether any event waits to be linked (committed ones only: the caller's snapshot). */
  async hasPending(): Promise<boolean> {
    const [row] = await this.dataSource.query<{ waiting: boolean }[]>(
      `SELECT EXISTS (SELECT 1 FROM audit_pending) AS waiting`,
    );
    return row.waiting;
  }

  /** The events waiting to be linked and how long the oldest has waited, by the database's clock. */
  async pendingBacklog(
    tx: EntityManager = this.dataSource.manager,
  ): Promise<{ events: number; oldestSeconds: number }> {
    const [row] = await tx.query<{ events: number; oldest: number }[]>(
      `SELECT count(*)::int AS events,
         COALESCE(EXTRACT(EPOCH FROM now() - min(occurred_at)), 0)::float8 AS oldest
       FROM audit_pending`,
    );
    return { events: row.events, oldestSeconds: Math.max(0, row.oldest) };
  }

  async findById(id: string): Promise<AuditEventEntity | null> {
    const rows = await this.dataSource.query<AuditEventEntity[]>(
      `SELECT ${COLUMNS} FROM audit_events WHERE id = $1`,
      [id],
    );
    return rows[0] ?? null;
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
