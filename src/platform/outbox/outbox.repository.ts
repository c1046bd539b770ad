import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { EntityManager } from 'typeorm';

import { OutboxEventEntity } from 'src/platform/outbox/outbox-event.entity';

/** NOTIFY channel raised when events commit, so that dispatchers need not wait for their next poll. */
export const OUTBOX_CHANNEL = 'tessera_outbox';

export interface NewOutboxEvent {
  readonly type: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly data: Record<string, unknown>;
}

@Injectable()
export class OutboxRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Events not yet fanned out, and the age of the oldest: read from the partial index of pending rows. */
  async backlog(): Promise<{ events: number; oldestAgeSeconds: number }> {
    const [row] = await this.dataSource.query<{ events: number; age: number }[]>(
      `SELECT count(*)::int AS events,
              COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 AS age
       FROM outbox_events WHERE dispatched_at IS NULL`,
    );
    return { events: row.events, oldestAgeSeconds: Math.max(0, row.age) };
  }

  /**
   * Appends an event inside the caller's transaction. The per-aggregate sequence is taken under a
   * transaction-scoped advisory lock on the aggregate, so concurrent writers never share a number. The lock
   * is its own statement: a statement's snapshot predates any lock it takes, so max() must be read after.
   * The NOTIFY is delivered only if the transaction commits, once per transaction (identical payloads merge).
   */
  async add(tx: EntityManager, event: NewOutboxEvent): Promise<OutboxEventEntity> {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [
      `outbox:${event.aggregateType}:${event.aggregateId}`,
    ]);
    const rows = await tx.query<OutboxEventEntity[]>(
      `WITH inserted AS (
         INSERT INTO outbox_events (type, aggregate_type, aggregate_id, sequence, data)
         SELECT $1, $2, $3::uuid, COALESCE(max(sequence), 0) + 1, $4::jsonb
         FROM outbox_events WHERE aggregate_type = $2 AND aggregate_id = $3::uuid
         RETURNING id, type, aggregate_type AS "aggregateType", aggregate_id AS "aggregateId", sequence,
                   data, created_at AS "createdAt", dispatched_at AS "dispatchedAt"
       )
       SELECT inserted.* FROM inserted, pg_notify($5, '')`,
      [
        event.type,
        event.aggregateType,
        event.aggregateId,
        JSON.stringify(event.data),
        OUTBOX_CHANNEL,
      ],
    );
    return rows[0];
  }

  /**
   * Rewrites the payload of every event of one aggregate, for erasure (GDPR): earlier events must not keep
   * personal data the aggregate no longer holds. The only sanctioned change to a written event.
   */
  async replaceAggregateData(
    tx: EntityManager,
    aggregateType: string,
    aggregateId: string,
    data: Record<string, unknown>,
  ): Promise<number> {
    // A SELECT around the UPDATE: TypeORM answers a bare UPDATE with [rows, count], a SELECT with rows.
    const rows = await tx.query<{ count: number }[]>(
      `WITH updated AS (
         UPDATE outbox_events SET data = $3::jsonb WHERE aggregate_type = $1 AND aggregate_id = $2 RETURNING 1
       )
       SELECT count(*)::int AS count FROM updated`,
      [aggregateType, aggregateId, JSON.stringify(data)],
    );
    return rows[0].count;
  }

  findByAggregate(
    tx: EntityManager,
    aggregateType: string,
    aggregateId: string,
  ): Promise<OutboxEventEntity[]> {
    return tx.getRepository(OutboxEventEntity).find({
      where: { aggregateType, aggregateId },
      order: { sequence: 'ASC' },
    });
  }
}
