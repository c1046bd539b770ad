import { randomUUID } from 'node:crypto';

import { Inject, Injectable, Logger } from '@nestjs/common';
import type { BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';
import { Client } from 'pg';
import { DataSource } from 'typeorm';

import { APP_CONFIG } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';
import { WebhookEndpointService } from 'src/modules/webhooks/webhook-endpoint.service';
import { WebhookQueueRepository } from 'src/modules/webhooks/webhook-queue.repository';
import type { ClaimedDelivery } from 'src/modules/webhooks/webhook-queue.repository';
import { completionOf } from 'src/modules/webhooks/webhook-schedule';
import { WebhookSender } from 'src/modules/webhooks/webhook-sender';
import { WebhookSigner } from 'src/modules/webhooks/webhook-signer';
import type { WebhookMessage } from 'src/modules/webhooks/webhook-signer';
import { WebhookMetrics } from 'src/modules/webhooks/webhook.metrics';
import { Clock } from 'src/platform/clock';
import { OUTBOX_CHANNEL } from 'src/platform/outbox/outbox.repository';
import { withTimeout } from 'src/platform/with-timeout';

const FAN_OUT_BATCH = 500;
const PRUNE_BATCH = 1_000;
const PRUNE_INTERVAL_MS = 3_600_000;
// Signing through the HSM is bounded too, so that the lease outlasts the longest attempt (signing, then
// WEBHOOK_TIMEOUT_MS of HTTP) plus time to record its result.
const SIGNING_TIMEOUT_MS = 3_000;
const LEASE_MARGIN_MS = 5_000;
const RELISTEN_DELAY_MS = 5_000;
const SIGNING_RETRY_MS = 30_000;

/**
 * The dispatcher. It fans outbox events out to subscribed endpoints as delivery rows, leases due deliveries
 * and attempts them, up to WEBHOOK_CONCURRENCY at a time. Any number of instances may run it against one
 * database: both steps skip rows another instance holds, and a lease keeps an attempt to one instance.
 * It wakes on NOTIFY from committing outbox writers, and polls as a fallback (and for due retries).
 */
@Injectable()
export class WebhookDeliveryWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('WebhookDispatcher');
  /** Attempts running in this instance, by delivery id. */
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly shutdown = new AbortController();
  private readonly timers: NodeJS.Timeout[] = [];
  private listener: Client | undefined;
  private pumping: Promise<void> | undefined;
  private pumpAgain = false;
  private stopping = false;

  constructor(
    private readonly queue: WebhookQueueRepository,
    private readonly endpoints: WebhookEndpointService,
    private readonly sender: WebhookSender,
    private readonly signer: WebhookSigner,
    private readonly clock: Clock,
    private readonly dataSource: DataSource,
    private readonly metrics: WebhookMetrics,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.config.webhooks.dispatcherEnabled) {
      return;
    }
    this.timers.push(setInterval(() => this.wake(), this.config.webhooks.pollIntervalMs));
    this.timers.push(
      setInterval(() => {
        this.pruneFinished().catch((error: unknown) => this.warn('Pruning failed', error));
      }, PRUNE_INTERVAL_MS),
    );
    void this.listen();
    this.wake();
  }

  /**
   * Stops claiming, lets attempts in flight finish until most of SHUTDOWN_TIMEOUT_MS has passed, then aborts
   * the rest: aborted deliveries are due again at once, for whichever instance is still running.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    for (const timer of this.timers) {
      clearInterval(timer);
    }
    await this.pumping;
    const drainMs = Math.floor(this.config.http.shutdownTimeoutMs * 0.7);
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      Promise.allSettled([...this.inFlight.values()]).then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), drainMs))),
    ]);
    clearTimeout(timer);
    if (!drained) {
      this.shutdown.abort();
      await Promise.allSettled([...this.inFlight.values()]);
    }
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
  }

  /**
   * One full round, for tests and tools: fans out every pending event, then attempts every due delivery it
   * can claim (not those leased elsewhere, nor beyond an endpoint's cap of attempts in flight) and waits
   * for the attempts. Events written meanwhile (an endpoint disabled) are fanned out at the end.
   */
  async runOnce(): Promise<{ dispatched: number; attempted: number }> {
    let dispatched = await this.fanOutAll();
    let attempted = 0;
    for (;;) {
      const claimed = await this.claim(this.config.webhooks.concurrency);
      if (claimed.length === 0) {
        break;
      }
      attempted += claimed.length;
      await Promise.all(claimed.map((delivery) => this.start(delivery)));
    }
    dispatched += await this.fanOutAll();
    return { dispatched, attempted };
  }

  /** Deletes deliveries (and their attempt log) finished longer than WEBHOOK_RETENTION_DAYS ago. */
  async pruneFinished(): Promise<number> {
    const cutoff = new Date(
      this.clock.now().getTime() - this.config.webhooks.retentionDays * 86_400_000,
    );
    let total = 0;
    for (;;) {
      const pruned = await this.queue.pruneFinished(cutoff, PRUNE_BATCH);
      total += pruned;
      if (pruned < PRUNE_BATCH) {
        return total;
      }
    }
  }

  /** Runs a pump now, or right after the one running: wake-ups never get lost, nor pile up. */
  private wake(): void {
    if (this.stopping) {
      return;
    }
    if (this.pumping !== undefined) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = this.pump().finally(() => {
      this.pumping = undefined;
      if (this.pumpAgain) {
        this.pumpAgain = false;
        this.wake();
      }
    });
  }

  private async pump(): Promise<void> {
    try {
      await this.fanOutAll();
      const free = this.config.webhooks.concurrency - this.inFlight.size;
      if (free <= 0 || this.stopping) {
        return;
      }
      for (const delivery of await this.claim(free)) {
        void this.start(delivery).then(() => {
          // Claim again once half the slots are free: one claim query serves several deliveries.
          if (this.inFlight.size <= Math.floor(this.config.webhooks.concurrency / 2)) {
            this.wake();
          }
        });
      }
    } catch (error) {
      // The database is unreachable or busy: the next poll tries again.
      this.warn('Dispatch round failed', error);
    }
  }

  private async fanOutAll(): Promise<number> {
    let total = 0;
    for (;;) {
      const { events } = await this.queue.fanOut(this.clock.now(), FAN_OUT_BATCH);
      total += events;
      if (events < FAN_OUT_BATCH) {
        return total;
      }
    }
  }

  /**
   * Leases due deliveries, never one this instance is still attempting: a lease can run out under a live
   * attempt (a stalled event loop, a slow settle), and one instance must not send the same delivery twice.
   */
  private claim(limit: number): Promise<ClaimedDelivery[]> {
    const now = this.clock.now();
    const leaseMs = SIGNING_TIMEOUT_MS + this.config.webhooks.timeoutMs + LEASE_MARGIN_MS;
    return this.queue.claimDue(
      now,
      new Date(now.getTime() + leaseMs),
      randomUUID(),
      limit,
      this.config.webhooks.endpointConcurrency,
      [...this.inFlight.keys()],
    );
  }

  /** Runs an attempt, known as in flight until it has settled. */
  private start(delivery: ClaimedDelivery): Promise<void> {
    const attempt = this.attempt(delivery).finally(() => this.inFlight.delete(delivery.id));
    this.inFlight.set(delivery.id, attempt);
    return attempt;
  }

  /** One attempt of a claimed delivery, and what follows from its outcome. Never throws. */
  private async attempt(delivery: ClaimedDelivery): Promise<void> {
    try {
      const startedAt = this.clock.now();
      if (!delivery.enabled) {
        await this.queue.abandon(delivery, startedAt, 'Endpoint disabled');
        this.metrics.attempts.abandoned.inc();
        return;
      }
      let message: WebhookMessage;
      try {
        message = await withTimeout(
          this.signer.message(delivery, startedAt),
          SIGNING_TIMEOUT_MS,
          () => new Error(`Signing took longer than ${SIGNING_TIMEOUT_MS} ms`),
        );
      } catch (error) {
        await this.defer(delivery, startedAt, error);
        return;
      }
      const result = await this.sender.send(
        delivery.url,
        message.headers,
        message.body,
        this.shutdown.signal,
      );
      const finishedAt = this.clock.now();
      const number = delivery.attempts + 1;
      const completion = completionOf(result, number, finishedAt);
      const settled = await this.queue.complete(
        delivery,
        {
          attempt: number,
          startedAt,
          durationMs: result.durationMs,
          statusCode: result.statusCode,
          responseBody: result.responseBody,
          errorClass: result.errorClass,
          error: result.error,
          succeeded: completion.kind === 'delivered',
        },
        completion,
        finishedAt,
      );
      if (settled === null) {
        return; // the lease ran out and another instance took the delivery over
      }
      this.metrics.attempts[completion.kind].inc();
      if (completion.kind === 'delivered') {
        this.metrics.delivered(delivery.eventCreatedAt, finishedAt);
      }
      if (result.statusCode === 410) {
        await this.endpoints.disableForDelivery(delivery.endpointId, 'gone', {
          deliveryId: delivery.id,
          statusCode: 410,
        });
      } else if (
        settled.failingSince !== null &&
        this.failedTooLong(settled.failingSince, finishedAt)
      ) {
        await this.endpoints.disableForDelivery(delivery.endpointId, 'failing', {
          deliveryId: delivery.id,
          failingSince: settled.failingSince.toISOString(),
        });
      }
    } catch (error) {
      // Nothing recorded: the lease runs out and the delivery is attempted again (at least once).
      this.warn(`Delivery ${delivery.id} could not be settled`, error);
    }
  }

  /** Signing failed (an HSM away): nothing is sent, and the delivery waits without losing an attempt. */
  private async defer(delivery: ClaimedDelivery, now: Date, error: unknown): Promise<void> {
    const message = error instanceof Error ? error.message : String(error);
    this.warn(`Delivery ${delivery.id} could not be signed`, error);
    await this.queue.complete(
      delivery,
      {
        attempt: delivery.attempts + 1,
        startedAt: now,
        durationMs: 0,
        statusCode: null,
        responseBody: null,
        errorClass: 'signing',
        error: message.slice(0, 500),
        succeeded: false,
      },
      { kind: 'deferred', nextAttemptAt: new Date(now.getTime() + SIGNING_RETRY_MS) },
      now,
    );
    this.metrics.attempts.deferred.inc();
  }

  private failedTooLong(failingSince: Date, now: Date): boolean {
    return (
      now.getTime() - failingSince.getTime() >= this.config.webhooks.disableAfterDays * 86_400_000
    );
  }

  /** A connection of its own that LISTENs for committed outbox events; reconnects while running. */
  private async listen(): Promise<void> {
    const url = (this.dataSource.options as { url?: string }).url;
    if (url === undefined || this.stopping) {
      return; // polling alone still delivers everything
    }
    const client = new Client({ connectionString: url, application_name: 'tessera-webhooks' });
    const relisten = () => {
      if (this.listener === client) {
        this.listener = undefined;
        if (!this.stopping) {
          const timer = setTimeout(() => void this.listen(), RELISTEN_DELAY_MS);
          timer.unref();
        }
      }
    };
    client.on('notification', () => this.wake());
    client.on('error', (error) => {
      this.warn('Listening for outbox events failed; polling meanwhile', error);
      relisten();
    });
    client.on('end', relisten);
    this.listener = client;
    try {
      await client.connect();
      await client.query(`LISTEN ${OUTBOX_CHANNEL}`);
      if (this.stopping) {
        await client.end();
      }
      this.wake(); // events committed before the LISTEN
    } catch (error) {
      this.warn('Could not listen for outbox events; polling meanwhile', error);
      relisten();
      await client.end().catch(() => undefined);
    }
  }

  private warn(message: string, error: unknown): void {
    if (!this.stopping) {
      this.logger.warn(`${message}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
