import { Inject, Injectable } from '@nestjs/common';

import { APP_CONFIG } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';
import { ChangeRecorder } from 'src/modules/audit/change-recorder.service';
import type { WebhookAttemptEntity } from 'src/modules/webhooks/webhook-delivery.entity';
import { WebhookDeliveryRepository } from 'src/modules/webhooks/webhook-delivery.repository';
import type { DeliveryRow } from 'src/modules/webhooks/webhook-delivery.repository';
import { WebhookEndpointService } from 'src/modules/webhooks/webhook-endpoint.service';
import { webhookId } from 'src/modules/webhooks/webhook-signature';
import type {
  RecoverResultDto,
  WebhookAttemptDto,
  WebhookDeliveryDetailDto,
  WebhookDeliveryDto,
  WebhookDeliveryListDto,
  WebhookDeliveryListQueryDto,
} from 'src/modules/webhooks/webhook.dto';
import {
  InvalidRecoverWindow,
  WebhookDeliveryInProgress,
  WebhookDeliveryNotFound,
  WebhookEndpointDisabled,
} from 'src/modules/webhooks/webhook.errors';
import type { Actor } from 'src/platform/auth/actor';
import { Clock } from 'src/platform/clock';
import { Transactions } from 'src/platform/database/transaction';
import { decodeCursor, InvalidCursor, page } from 'src/platform/http/pagination';
import { OutboxRepository } from 'src/platform/outbox/outbox.repository';

/** The delivery log and what an operator can do with it: retry one, recover many, send a test event. */
@Injectable()
export class WebhookDeliveryService {
  constructor(
    private readonly deliveries: WebhookDeliveryRepository,
    private readonly endpoints: WebhookEndpointService,
    private readonly transactions: Transactions,
    private readonly changes: ChangeRecorder,
    private readonly outbox: OutboxRepository,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async listForEndpoint(
    endpointId: string,
    query: WebhookDeliveryListQueryDto,
  ): Promise<WebhookDeliveryListDto> {
    await this.endpoints.require(undefined, endpointId);
    const rows = await this.deliveries.findByEndpoint(
      endpointId,
      { status: query.status, eventType: query.eventType },
      query.limit + 1,
      query.cursor === undefined ? undefined : positionOf(query.cursor),
    );
    return page(rows, query.limit, toDeliveryDto, (row) => ({
      createdAt: row.createdAt.toISOString(),
      id: row.id,
    }));
  }

  async get(id: string): Promise<WebhookDeliveryDetailDto> {
    const delivery = await this.deliveries.getById(undefined, id);
    if (delivery === null) {
      throw new WebhookDeliveryNotFound();
    }
    const attempts = await this.deliveries.attemptsOf(id);
    return { ...toDeliveryDto(delivery), attemptLog: attempts.map(toAttemptDto) };
  }

  /** Sends the event again at once, with a fresh retry schedule, whatever became of it before. */
  async retry(actor: Actor, id: string): Promise<WebhookDeliveryDto> {
    return this.transactions.run(async (tx) => {
      const delivery = await this.deliveries.getById(tx, id);
      if (delivery === null) {
        throw new WebhookDeliveryNotFound();
      }
      const endpoint = await this.endpoints.require(tx, delivery.endpointId, true);
      if (!endpoint.enabled) {
        throw new WebhookEndpointDisabled();
      }
      if (!(await this.deliveries.requeue(tx, id, this.clock.now()))) {
        throw new WebhookDeliveryInProgress();
      }
      await this.deliveries.notifyDispatchers(tx);
      await this.changes.record(tx, actor, {
        action: 'webhook-delivery.retried',
        targetType: 'webhook-delivery',
        targetId: id,
        metadata: { endpointId: delivery.endpointId, eventId: delivery.eventId },
      });
      return toDeliveryDto((await this.deliveries.getById(tx, id))!);
    });
  }

  /**
   * Everything the endpoint should have received for events since `since` and has not: failed deliveries
   * are sent again, and events it never got (it was disabled) are queued. Limited to the retention period:
   * older deliveries may have been pruned, and their events would be sent twice.
   */
  async recover(actor: Actor, endpointId: string, since: string): Promise<RecoverResultDto> {
    const from = new Date(since);
    const now = this.clock.now();
    const oldest = new Date(now.getTime() - this.config.webhooks.retentionDays * 86_400_000);
    if (Number.isNaN(from.getTime()) || from.getTime() > now.getTime()) {
      throw new InvalidRecoverWindow('since must be a time in the past.');
    }
    if (from.getTime() < oldest.getTime()) {
      throw new InvalidRecoverWindow(
        `since must be within the retention period (WEBHOOK_RETENTION_DAYS = ${this.config.webhooks.retentionDays}), ` +
          `not before ${oldest.toISOString()}.`,
      );
    }
    return this.transactions.run(async (tx) => {
      const endpoint = await this.endpoints.require(tx, endpointId, true);
      if (!endpoint.enabled) {
        throw new WebhookEndpointDisabled();
      }
      const result = await this.deliveries.recover(tx, endpointId, from, now);
      await this.deliveries.notifyDispatchers(tx);
      await this.changes.record(tx, actor, {
        action: 'webhook-endpoint.recovered',
        targetType: 'webhook-endpoint',
        targetId: endpointId,
        metadata: { since: from.toISOString(), ...result },
      });
      return result;
    });
  }

  /** A `webhook.test` event for this endpoint alone, delivered like any other (signed, retried, logged). */
  async sendTest(
    actor: Actor,
    endpointId: string,
    data: Record<string, unknown> | undefined,
  ): Promise<WebhookDeliveryDto> {
    return this.transactions.run(async (tx) => {
      const endpoint = await this.endpoints.require(tx, endpointId, true);
      if (!endpoint.enabled) {
        throw new WebhookEndpointDisabled();
      }
      const now = this.clock.now();
      // Not a change but a message for this endpoint, written straight to the outbox. A stream of its own:
      // tests must not take numbers from the endpoint's `sequence`, whose events other endpoints receive
      // (they would see a gap that never fills).
      const event = await this.outbox.add(tx, {
        type: 'webhook.test',
        aggregateType: 'webhook-test',
        aggregateId: endpointId,
        data: data ?? { message: 'A test event from Tessera', sentAt: now.toISOString() },
      });
      const id = await this.deliveries.createDirect(tx, endpointId, event.id, now);
      await this.changes.record(tx, actor, {
        action: 'webhook-endpoint.test-sent',
        targetType: 'webhook-endpoint',
        targetId: endpointId,
        metadata: { deliveryId: id, eventId: event.id },
      });
      return toDeliveryDto((await this.deliveries.getById(tx, id))!);
    });
  }
}

// The form cursors are written in (toISOString): four-digit years, always within PostgreSQL's range.
const CURSOR_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

function positionOf(cursor: string): { createdAt: Date; id: string } {
  const { createdAt, id } = decodeCursor(cursor, ['createdAt', 'id']);
  const at = new Date(createdAt);
  if (
    !CURSOR_TIME.test(createdAt) ||
    Number.isNaN(at.getTime()) ||
    at.toISOString() !== createdAt
  ) {
    throw new InvalidCursor();
  }
  return { createdAt: at, id };
}

function toDeliveryDto(row: DeliveryRow): WebhookDeliveryDto {
  return {
    id: row.id,
    endpointId: row.endpointId,
    eventId: row.eventId,
    eventType: row.eventType,
    webhookId: webhookId(row.eventId),
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: row.nextAttemptAt?.toISOString() ?? null,
    lastAttemptAt: row.lastAttemptAt?.toISOString() ?? null,
    lastStatusCode: row.lastStatusCode,
    lastError: row.lastError,
    deliveredAt: row.deliveredAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
  };
}

function toAttemptDto(attempt: WebhookAttemptEntity): WebhookAttemptDto {
  return {
    attempt: attempt.attempt,
    startedAt: attempt.startedAt.toISOString(),
    durationMs: attempt.durationMs,
    statusCode: attempt.statusCode,
    responseBody: attempt.responseBody,
    errorClass: attempt.errorClass,
    error: attempt.error,
    succeeded: attempt.succeeded,
  };
}
