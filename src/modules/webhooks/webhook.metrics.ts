import { Injectable } from '@nestjs/common';

import { WebhookQueueRepository } from 'src/modules/webhooks/webhook-queue.repository';
import type { Completion } from 'src/modules/webhooks/webhook-queue.repository';
import { Clock } from 'src/platform/clock';
import { Metrics } from 'src/platform/metrics/metrics';
import type { Increment } from 'src/platform/metrics/metrics';

/** What became of an attempt: the completion kinds, and `abandoned` (its endpoint was disabled meanwhile). */
export type AttemptOutcome = Completion['kind'] | 'abandoned';
const OUTCOMES: readonly AttemptOutcome[] = [
  'delivered',
  'retry',
  'failed',
  'released',
  'deferred',
  'abandoned',
];
const DISABLED_REASONS = ['manual', 'gone', 'failing'] as const;

/** From a receiver on the same network (ms) to the end of the three-day retry schedule. */
const LAG_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1_800, 3_600, 21_600,
  86_400, 259_200,
];

/**
 * Delivery attempts by outcome and the lag from an event's commit to its successful delivery, counted by
 * the dispatcher; the queue's depth and the endpoints' state from one query on the metrics interval.
 */
@Injectable()
export class WebhookMetrics {
  readonly attempts: Record<AttemptOutcome, Increment>;
  private readonly lag: { observe(seconds: number): void };

  constructor(metrics: Metrics, queue: WebhookQueueRepository, clock: Clock) {
    const attempts = metrics.counter({
      name: 'tessera_webhook_attempts_total',
      help: 'Webhook delivery attempts by outcome: delivered, retry, failed (gave up), released (shutdown), deferred (signing), abandoned (endpoint disabled).',
      labelNames: ['outcome'],
    });
    this.attempts = metrics.children(attempts, OUTCOMES);
    this.lag = metrics.histogram({
      name: 'tessera_webhook_delivery_lag_seconds',
      help: "From an event's commit to its successful delivery (retries included).",
      buckets: LAG_BUCKETS,
    });

    const pending = metrics.gauge({
      name: 'tessera_webhook_queue_pending',
      help: 'Webhook deliveries not yet delivered or given up (waiting, due or in flight).',
    });
    const due = metrics.gauge({
      name: 'tessera_webhook_queue_due',
      help: 'Pending webhook deliveries whose next attempt is due now.',
    });
    const oldestDue = metrics.gauge({
      name: 'tessera_webhook_queue_oldest_due_seconds',
      help: 'How long the longest-waiting due delivery has been due (0 when none).',
    });
    const failing = metrics.gauge({
      name: 'tessera_webhook_endpoints_failing',
      help: 'Enabled webhook endpoints whose deliveries keep failing (no success since failing_since).',
    });
    const disabled = metrics.gauge({
      name: 'tessera_webhook_endpoints_disabled',
      help: 'Disabled webhook endpoints by reason: manual, gone (answered 410), failing (too long without success).',
      labelNames: ['reason'],
    });
    metrics.onRefresh('webhooks', async () => {
      const stats = await queue.stats(clock.now());
      pending.set(stats.pending);
      due.set(stats.due);
      oldestDue.set(Math.max(0, stats.oldestDueSeconds));
      failing.set(stats.failing);
      for (const reason of DISABLED_REASONS) {
        disabled.labels(reason).set(stats.disabled[reason] ?? 0);
      }
    });
  }

  /** A successful delivery of an event committed at `eventCreatedAt`. */
  delivered(eventCreatedAt: Date, now: Date): void {
    this.lag.observe(Math.max(0, (now.getTime() - eventCreatedAt.getTime()) / 1000));
  }
}
