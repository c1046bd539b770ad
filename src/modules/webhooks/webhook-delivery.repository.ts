import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { EntityManager } from 'typeorm';

import type { DeliveryStatus } from 'src/modules/webhooks/webhook-delivery.entity';
import { WebhookAttemptEntity } from 'src/modules/webhooks/webhook-delivery.entity';
import { SUBSCRIBED } from 'src/modules/webhooks/webhook-queue.repository';
import { OUTBOX_CHANNEL } from 'src/platform/outbox/outbox.repository';

export interface DeliveryRow {
  readonly id: string;
  readonly endpointId: string;
  readonly eventId: string;
  readonly eventType: string;
  readonly status: DeliveryStatus;
  readonly attempts: number;
  readonly nextAttemptAt: Date | null;
  readonly lastAttemptAt: Date | null;
  readonly lastStatusCode: number | null;
  readonly lastError: string | null;
  readonly deliveredAt: Date | null;
  readonly createdAt: Date;
}

const DELIVERY_COLUMNS = `d.id, d.endpoint_id AS "endpointId", d.event_id AS "eventId", o.type AS "eventType",
  d.status, d.attempts, d.next_attempt_at AS "nextAttemptAt", d.last_attempt_at AS "lastAttemptAt",
  d.last_status_code AS "lastStatusCode", d.last_error AS "lastError", d.delivered_at AS "deliveredAt",
  d.created_at AS "createdAt"`;

/**
 * Deliveries as the API sees them: listing, and the operator's actions (retry, recover, send-test). Times
 * are parameters from the injected clock. Statements that change rows are wrapped in a SELECT, because
 * TypeORM answers a bare UPDATE with [rows, count].
 */
@Injectable()
export class WebhookDeliveryRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * A disabled endpoint receives nothing more: its pending deliveries fail (recover can resend them). Their
   * claims end here: an attempt still in flight logs its result but settles nothing, even once requeued.
   */
  async failPending(
    tx: EntityManager,
    endpointId: string,
    now: Date,
    reason: string,
  ): Promise<number> {
    const [row] = await tx.query<{ n: string }[]>(
      `WITH failed AS (
         UPDATE webhook_deliveries
         SET status = 'failed', next_attempt_at = NULL, finished_at = $2, last_error = $3,
             claim_token = NULL
         WHERE endpoint_id = $1 AND status = 'pending' RETURNING id
       )
       SELECT count(*) AS n FROM failed`,
      [endpointId, now, reason],
    );
    return Number(row.n);
  }

  /**
   * Makes a delivery due now with a fresh retry schedule, unless an attempt holds it at this moment.
   * Returns false when it is being attempted. An older claim (its lease ran out) can no longer settle it.
   */
  async requeue(tx: EntityManager, id: string, now: Date): Promise<boolean> {
    const rows = await tx.query<{ id: string }[]>(
      `WITH requeued AS (
         UPDATE webhook_deliveries
         SET status = 'pending', attempts = 0, next_attempt_at = $2, finished_at = NULL, delivered_at = NULL,
             claim_token = NULL
         WHERE id = $1 AND (locked_until IS NULL OR locked_until <= $2) RETURNING id
       )
       SELECT id FROM requeued`,
      [id, now],
    );
    return rows.length === 1;
  }

  /**
   * Recover: every delivery of the endpoint that failed for an event since `since` is due again with a fresh
   * schedule, and every event since then the endpoint is subscribed to but never got (it was disabled, or
   * subscribed later) gets a delivery. Returns how many of each. No earlier claim can settle a requeued
   * delivery; one whose lease has not run out yet is claimed again once it has.
   */
  async recover(
    tx: EntityManager,
    endpointId: string,
    since: Date,
    now: Date,
  ): Promise<{ requeued: number; missed: number }> {
    const [row] = await tx.query<{ requeued: string; missed: string }[]>(
      `WITH requeued AS (
         UPDATE webhook_deliveries d
         SET status = 'pending', attempts = 0, next_attempt_at = $3, finished_at = NULL, claim_token = NULL
         FROM outbox_events o
         WHERE d.endpoint_id = $1 AND d.status = 'failed' AND o.id = d.event_id AND o.created_at >= $2
         RETURNING d.id
       ), missed AS (
         INSERT INTO webhook_deliveries (endpoint_id, event_id, status, attempts, next_attempt_at, created_at)
         SELECT w.id, o.id, 'pending', 0, $3, $3
         FROM webhook_endpoints w
         JOIN outbox_events o ON o.created_at >= GREATEST($2, w.created_at) AND o.dispatched_at IS NOT NULL
           AND ${SUBSCRIBED('w', 'o')}
         WHERE w.id = $1
         ON CONFLICT (endpoint_id, event_id) DO NOTHING
         RETURNING id
       )
       SELECT (SELECT count(*) FROM requeued) AS requeued, (SELECT count(*) FROM missed) AS missed`,
      [endpointId, since, now],
    );
    return { requeued: Number(row.requeued), missed: Number(row.missed) };
  }

  /** A delivery of `eventId` to this endpoint only; the event is marked dispatched so nobody else gets it. */
  async createDirect(
    tx: EntityManager,
    endpointId: string,
    eventId: string,
    now: Date,
  ): Promise<string> {
    await tx.query(`UPDATE outbox_events SET dispatched_at = $2 WHERE id = $1`, [eventId, now]);
    const [row] = await tx.query<{ id: string }[]>(
      `INSERT INTO webhook_deliveries (endpoint_id, event_id, status, attempts, next_attempt_at, created_at)
       VALUES ($1, $2, 'pending', 0, $3, $3) RETURNING id`,
      [endpointId, eventId, now],
    );
    return row.id;
  }

  /** Wakes the dispatchers of every instance when the transaction commits. */
  async notifyDispatchers(tx: EntityManager): Promise<void> {
    await tx.query(`SELECT pg_notify($1, '')`, [OUTBOX_CHANNEL]);
  }

  async getById(tx: EntityManager | undefined, id: string): Promise<DeliveryRow | null> {
    const rows = await (tx ?? this.dataSource.manager).query<DeliveryRow[]>(
      `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN outbox_events o ON o.id = d.event_id
       WHERE d.id = $1`,
      [id],
    );
    return rows[0] ?? null;
  }

  /** An endpoint's deliveries, newest first, after the (createdAt, id) position of the previous page. */
  findByEndpoint(
    endpointId: string,
    filter: { status?: DeliveryStatus; eventType?: string },
    limit: number,
    after: { createdAt: Date; id: string } | undefined,
  ): Promise<DeliveryRow[]> {
    const conditions = ['d.endpoint_id = $1'];
    const params: unknown[] = [endpointId];
    if (filter.status !== undefined) {
      params.push(filter.status);
      conditions.push(`d.status = $${params.length}`);
    }
    if (filter.eventType !== undefined) {
      params.push(filter.eventType);
      conditions.push(`o.type = $${params.length}`);
    }
    if (after !== undefined) {
      params.push(after.createdAt, after.id);
      conditions.push(`(d.created_at, d.id) < ($${params.length - 1}, $${params.length})`);
    }
    params.push(limit);
    return this.dataSource.query<DeliveryRow[]>(
      `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN outbox_events o ON o.id = d.event_id
       WHERE ${conditions.join(' AND ')}
       ORDER BY d.created_at DESC, d.id DESC
       LIMIT $${params.length}`,
      params,
    );
  }

  attemptsOf(deliveryId: string): Promise<WebhookAttemptEntity[]> {
    return this.dataSource.getRepository(WebhookAttemptEntity).find({
      where: { deliveryId },
      order: { startedAt: 'ASC', attempt: 'ASC' },
    });
  }
}
