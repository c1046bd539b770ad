import { Inject, Injectable, Logger } from '@nestjs/common';
import type { OnApplicationShutdown } from '@nestjs/common';
import { Pool } from 'pg';
import { DataSource } from 'typeorm';

import { APP_CONFIG } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';

/** A delivery claimed for one attempt, with what the attempt needs from its endpoint and event. */
export interface ClaimedDelivery {
  readonly id: string;
  readonly endpointId: string;
  readonly eventId: string;
  /** Attempts already made in the current schedule. */
  readonly attempts: number;
  readonly claimToken: string;
  readonly url: string;
  readonly enabled: boolean;
  readonly secretSealed: string;
  readonly previousSecretSealed: string | null;
  readonly previousSecretExpiresAt: Date | null;
  readonly signEd25519: boolean;
  readonly payloadVersion: string;
  readonly eventType: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly sequence: string;
  readonly data: Record<string, unknown>;
  readonly eventCreatedAt: Date;
}

export interface AttemptRecord {
  readonly attempt: number;
  readonly startedAt: Date;
  readonly durationMs: number;
  readonly statusCode: number | null;
  readonly responseBody: string | null;
  readonly errorClass: string | null;
  readonly error: string | null;
  readonly succeeded: boolean;
}

export interface WebhookQueueStats {
  readonly pending: number;
  readonly due: number;
  readonly oldestDueSeconds: number;
  /** Enabled endpoints whose deliveries fail without a success since `failing_since`. */
  readonly failing: number;
  /** Disabled endpoints by reason (manual, gone, failing); reasons with none are absent. */
  readonly disabled: Partial<Record<string, number>>;
}

/** What becomes of the delivery after an attempt. */
export type Completion =
  | { readonly kind: 'delivered' }
  | { readonly kind: 'retry'; readonly nextAttemptAt: Date }
  | { readonly kind: 'failed' }
  /** Aborted by a shutdown: due again at once, and the attempt does not count. */
  | { readonly kind: 'released' }
  /** Tessera could not sign it (the HSM is away): later, not counted, not the endpoint's failure. */
  | { readonly kind: 'deferred'; readonly nextAttemptAt: Date };

/** The webhook-deliveries report's series for each counted attempt; Tessera's own aborts are not counted. */
const REPORTED_OUTCOME: Record<'delivered' | 'retry' | 'failed', string> = {
  delivered: 'delivered',
  retry: 'retried',
  failed: 'failed',
};

// Which endpoints want an event: subscribed to its type, its noun's wildcard or everything; an endpoint never
// receives the events about itself, and `webhook.test` events only ever go to the endpoint they were sent to.
export const SUBSCRIBED = (endpoint: string, event: string) =>
  `${endpoint}.event_types && ARRAY['*', ${event}.type, split_part(${event}.type, '.', 1) || '.*']
   AND NOT (${event}.aggregate_type = 'webhook-endpoint' AND ${event}.aggregate_id = ${endpoint}.id)
   AND ${event}.type <> 'webhook.test'`;

/**
 * The dispatcher's delivery queue in plain SQL: fan-out, claim, settle, prune. Every time is a parameter
 * from the injected clock rather than now(), so tests drive the schedule and the leases.
 *
 * These statements run on a small pool of their own with `synchronous_commit = off`: they wait for no WAL
 * flush, which takes two flushes off the path from commit to delivery and one off every attempt. Only a
 * PostgreSQL crash can lose such a commit, and losing one merely repeats work (an event is fanned out
 * again, a delivery attempted again): deliveries stay at least once. Business transactions, and with them
 * the outbox rows, keep synchronous commits.
 */
@Injectable()
export class WebhookQueueRepository implements OnApplicationShutdown {
  private readonly logger = new Logger('WebhookDispatcher');
  private pool: Pool | undefined;

  constructor(
    private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    await pool?.end();
  }

  /**
   * Fans out up to `limit` undispatched outbox events: one delivery per subscribed enabled endpoint, and the
   * events marked dispatched, in one statement. Rows locked by another instance are skipped, not waited on.
   */
  async fanOut(now: Date, limit: number): Promise<{ events: number; deliveries: number }> {
    const [row] = await this.run<{ events: string; deliveries: string }>(
      `WITH events AS (
         SELECT id, type, aggregate_type, aggregate_id FROM outbox_events
         WHERE dispatched_at IS NULL
         ORDER BY created_at
         LIMIT $2
         FOR UPDATE SKIP LOCKED
       ), deliveries AS (
         INSERT INTO webhook_deliveries (endpoint_id, event_id, status, attempts, next_attempt_at, created_at)
         SELECT w.id, ev.id, 'pending', 0, $1, $1
         FROM events ev JOIN webhook_endpoints w ON w.enabled AND ${SUBSCRIBED('w', 'ev')}
         ON CONFLICT (endpoint_id, event_id) DO NOTHING
         RETURNING id
       ), marked AS (
         UPDATE outbox_events o SET dispatched_at = $1 FROM events ev WHERE o.id = ev.id RETURNING o.id
       )
       SELECT (SELECT count(*) FROM marked) AS events, (SELECT count(*) FROM deliveries) AS deliveries`,
      [now, limit],
    );
    return { events: Number(row.events), deliveries: Number(row.deliveries) };
  }

  /**
   * Leases up to `limit` due deliveries until `leaseUntil` under `token`, oldest first but at most
   * `perEndpoint` in flight per endpoint, so that one slow or dead receiver cannot hold every slot while
   * the others wait (the cap counts this instance's and others' leases, read without locking: two
   * instances claiming at the same moment may together exceed it briefly). A delivery being attempted
   * stays leased, so no other instance attempts it at the same time; if its instance dies, the lease runs
   * out and another one picks it up. `inFlight`: deliveries the caller is attempting, never claimed again.
   * Leases compare instances' clocks: they must agree to well within the lease's margin (NTP).
   */
  claimDue(
    now: Date,
    leaseUntil: Date,
    token: string,
    limit: number,
    perEndpoint: number,
    inFlight: readonly string[] = [],
  ): Promise<ClaimedDelivery[]> {
    return this.run<ClaimedDelivery>(
      `WITH due AS (
         SELECT x.id, x.next_attempt_at
         FROM webhook_endpoints w
         CROSS JOIN LATERAL (
           SELECT d.id, d.next_attempt_at FROM webhook_deliveries d
           WHERE d.endpoint_id = w.id AND d.status = 'pending' AND d.next_attempt_at <= $1
             AND (d.locked_until IS NULL OR d.locked_until <= $1) AND d.id <> ALL($6::uuid[])
           ORDER BY d.next_attempt_at
           LIMIT GREATEST(0, $5 - (
             SELECT count(*) FROM webhook_deliveries l
             WHERE l.endpoint_id = w.id AND l.locked_until > $1 AND l.status = 'pending'
           ))
           FOR UPDATE SKIP LOCKED
         ) x
         ORDER BY x.next_attempt_at
         LIMIT $4
       ), claimed AS (
         UPDATE webhook_deliveries d SET locked_until = $2, claim_token = $3
         FROM due WHERE d.id = due.id
         RETURNING d.id, d.endpoint_id, d.event_id, d.attempts, d.claim_token
       )
       SELECT c.id, c.endpoint_id AS "endpointId", c.event_id AS "eventId", c.attempts,
              c.claim_token AS "claimToken", w.url, w.enabled, w.secret_sealed AS "secretSealed",
              w.previous_secret_sealed AS "previousSecretSealed",
              w.previous_secret_expires_at AS "previousSecretExpiresAt", w.sign_ed25519 AS "signEd25519",
              w.payload_version AS "payloadVersion", o.type AS "eventType",
              o.aggregate_type AS "aggregateType", o.aggregate_id AS "aggregateId", o.sequence, o.data,
              o.created_at AS "eventCreatedAt"
       FROM claimed c
       JOIN webhook_endpoints w ON w.id = c.endpoint_id
       JOIN outbox_events o ON o.id = c.event_id`,
      [now, leaseUntil, token, limit, perEndpoint, inFlight],
    );
  }

  /**
   * Logs the attempt and settles the delivery, in one statement. The delivery changes only if this claim
   * still holds it (a lease that ran out may have passed it on) and nothing failed it meanwhile (its
   * endpoint was disabled); the attempt is logged either way. Returns the endpoint's `failingSince` after a
   * failure, or null when the claim was lost.
   */
  async complete(
    delivery: ClaimedDelivery,
    attempt: AttemptRecord,
    completion: Completion,
    now: Date,
  ): Promise<{ failingSince: Date | null } | null> {
    // Shutdown and signing failures are Tessera's own: not counted, and no verdict on the endpoint.
    const ours = completion.kind === 'released' || completion.kind === 'deferred';
    const status =
      completion.kind === 'delivered'
        ? 'delivered'
        : completion.kind === 'failed'
          ? 'failed'
          : 'pending';
    const next =
      completion.kind === 'retry' || completion.kind === 'deferred'
        ? completion.nextAttemptAt
        : completion.kind === 'released'
          ? now
          : null;
    const health =
      completion.kind === 'delivered'
        ? // A success ends the endpoint's failing streak.
          `, healthy AS (
             UPDATE webhook_endpoints SET failing_since = NULL
             WHERE id = (SELECT endpoint_id FROM settled) AND failing_since IS NOT NULL RETURNING id
           )
           SELECT NULL::timestamptz AS "failingSince", (SELECT count(*) FROM settled) AS settled`
        : ours
          ? `SELECT NULL::timestamptz AS "failingSince", (SELECT count(*) FROM settled) AS settled`
          : // A failure starts one, unless one is running; both CTEs read the snapshot from before the update.
            `, marked AS (
               UPDATE webhook_endpoints SET failing_since = $7
               WHERE id = (SELECT endpoint_id FROM settled) AND failing_since IS NULL RETURNING failing_since
             )
             SELECT COALESCE(
                      (SELECT failing_since FROM marked),
                      (SELECT failing_since FROM webhook_endpoints WHERE id = (SELECT endpoint_id FROM settled))
                    ) AS "failingSince",
                    (SELECT count(*) FROM settled) AS settled`;
    const [row] = await this.run<{ failingSince: Date | null; settled: string }>(
      `WITH logged AS (
         INSERT INTO webhook_attempts (delivery_id, attempt, started_at, duration_ms, status_code,
           response_body, error_class, error, succeeded)
         VALUES ($1, $8, $7, $9, $10, $11, $12, $13, $14)
       ), settled AS (
         UPDATE webhook_deliveries
         SET status = $3, attempts = attempts + $4::int, next_attempt_at = $5, locked_until = NULL,
             claim_token = NULL, last_attempt_at = $7, last_status_code = $10, last_error = $13,
             delivered_at = CASE WHEN $3 = 'delivered' THEN $6::timestamptz ELSE delivered_at END,
             finished_at = CASE WHEN $3 = 'pending' THEN NULL ELSE $6::timestamptz END
         WHERE id = $1 AND claim_token = $2 AND status = 'pending'
         RETURNING endpoint_id
       ), counted AS (
         -- The webhook-deliveries report (docs/reports.md): the attempt's outcome, if it settled.
         INSERT INTO usage_deltas (at, metric, dim, count)
         SELECT $6, 'webhook', $15::text, 1 FROM settled WHERE $15::text IS NOT NULL
       )
       ${health}`,
      [
        delivery.id,
        delivery.claimToken,
        status,
        ours ? 0 : 1,
        next,
        now,
        attempt.startedAt,
        attempt.attempt,
        attempt.durationMs,
        attempt.statusCode,
        attempt.responseBody,
        attempt.errorClass,
        attempt.error,
        attempt.succeeded,
        ours ? null : REPORTED_OUTCOME[completion.kind],
      ],
    );
    return Number(row.settled) === 0 ? null : { failingSince: row.failingSince };
  }

  /** Ends the claim on a delivery whose endpoint was disabled meanwhile: failed, unattempted. */
  async abandon(delivery: ClaimedDelivery, now: Date, reason: string): Promise<void> {
    await this.run(
      `WITH abandoned AS (
         UPDATE webhook_deliveries
         SET status = 'failed', next_attempt_at = NULL, finished_at = $3, locked_until = NULL,
             claim_token = NULL, last_error = $4
         WHERE id = $1 AND claim_token = $2 RETURNING id
       )
       SELECT count(*) FROM abandoned`,
      [delivery.id, delivery.claimToken, now, reason],
    );
  }

  /** Deletes up to `limit` deliveries (and their attempt log) that finished before `cutoff`. */
  async pruneFinished(cutoff: Date, limit: number): Promise<number> {
    const [row] = await this.run<{ n: string }>(
      `WITH pruned AS (
         DELETE FROM webhook_deliveries WHERE id IN (
           SELECT id FROM webhook_deliveries WHERE status <> 'pending' AND finished_at < $1 LIMIT $2
         ) RETURNING id
       )
       SELECT count(*) AS n FROM pruned`,
      [cutoff, limit],
    );
    return Number(row.n);
  }

  /**
   * The queue at a glance, for the metrics gauges: pending deliveries (from the partial index of pending
   * rows), those due now and how late the oldest of them is, and endpoints disabled (by reason) or failing.
   */
  async stats(now: Date): Promise<WebhookQueueStats> {
    const [row] = await this.dataSource.query<
      Array<Omit<WebhookQueueStats, 'disabled'> & { disabled: Record<string, number> | null }>
    >(
      `SELECT
         (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending')::int AS pending,
         d.due, d.oldest_due_seconds AS "oldestDueSeconds",
         (SELECT count(*) FROM webhook_endpoints WHERE enabled AND failing_since IS NOT NULL)::int AS failing,
         (SELECT jsonb_object_agg(disabled_reason, n) FROM (
            SELECT disabled_reason, count(*)::int AS n FROM webhook_endpoints
            WHERE NOT enabled GROUP BY disabled_reason) r) AS disabled
       FROM (SELECT count(*)::int AS due,
                    COALESCE(EXTRACT(EPOCH FROM $1::timestamptz - min(next_attempt_at)), 0)::float8
                      AS oldest_due_seconds
             FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $1) d`,
      [now],
    );
    return { ...row, disabled: row.disabled ?? {} };
  }

  private async run<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    const pool = this.dispatcherPool();
    if (pool === undefined) {
      return this.dataSource.query<T[]>(sql, params);
    }
    return (await pool.query(sql, params)).rows as T[];
  }

  private dispatcherPool(): Pool | undefined {
    const url = (this.dataSource.options as { url?: string }).url;
    if (this.pool === undefined && url !== undefined) {
      this.pool = new Pool({
        connectionString: url,
        max: 4,
        application_name: 'tessera-webhooks',
        connectionTimeoutMillis: this.config.database.connectTimeoutMs,
        options: `-c synchronous_commit=off -c statement_timeout=${this.config.database.statementTimeoutMs}`,
      });
      // An idle connection that breaks (the database restarted) must not take the process down.
      this.pool.on('error', (error) =>
        this.logger.warn(`Dispatcher connection lost: ${error.message}`),
      );
    }
    return this.pool;
  }
}
