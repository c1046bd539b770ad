import { isDeepStrictEqual } from 'node:util';

import { Inject, Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

import { APP_CONFIG } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';
import { ChangeRecorder } from 'src/modules/audit/change-recorder.service';
import { AddressPolicy } from 'src/modules/webhooks/webhook-address';
import { WebhookDeliveryRepository } from 'src/modules/webhooks/webhook-delivery.repository';
import type {
  DisabledReason,
  WebhookEndpointEntity,
} from 'src/modules/webhooks/webhook-endpoint.entity';
import { WebhookEndpointRepository } from 'src/modules/webhooks/webhook-endpoint.repository';
import { newWebhookSecret, secretKey } from 'src/modules/webhooks/webhook-signature';
import { WEBHOOK_SECRET_PURPOSE } from 'src/modules/webhooks/webhook-signer';
import { checkEndpointUrl } from 'src/modules/webhooks/webhook-url';
import type {
  CreateWebhookEndpointDto,
  UpdateWebhookEndpointDto,
  WebhookEndpointDto,
  WebhookEndpointListDto,
  WebhookEndpointListQueryDto,
  WebhookEndpointWithSecretDto,
} from 'src/modules/webhooks/webhook.dto';
import {
  InvalidWebhookSecret,
  InvalidWebhookUrl,
  WebhookAddressForbidden,
  WebhookEndpointNotFound,
} from 'src/modules/webhooks/webhook.errors';
import type { Actor } from 'src/platform/auth/actor';
import { systemActor } from 'src/platform/auth/actor';
import { Clock } from 'src/platform/clock';
import { SecretBox } from 'src/platform/crypto/secret-box';
import { Transactions } from 'src/platform/database/transaction';
import { StaleVersion } from 'src/platform/http/etag';
import { afterIdOf, page } from 'src/platform/http/pagination';

const EDITABLE = [
  'url',
  'description',
  'eventTypes',
  'enabled',
  'payloadVersion',
  'signEd25519',
] as const;

/** Webhook endpoints: CRUD, secret rotation, and disabling (by an admin, a 410, or days of failures). */
@Injectable()
export class WebhookEndpointService {
  private readonly box: SecretBox;

  constructor(
    private readonly endpoints: WebhookEndpointRepository,
    private readonly deliveries: WebhookDeliveryRepository,
    private readonly transactions: Transactions,
    private readonly changes: ChangeRecorder,
    private readonly policy: AddressPolicy,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.box = new SecretBox(config.secrets.encryption, WEBHOOK_SECRET_PURPOSE);
  }

  async create(
    actor: Actor,
    input: CreateWebhookEndpointDto,
  ): Promise<WebhookEndpointWithSecretDto> {
    const url = this.checkUrl(input.url);
    const secret = this.checkSecret(input.secret);
    const enabled = input.enabled ?? true;
    const now = this.clock.now();
    return this.transactions.run(async (tx) => {
      const endpoint = await this.endpoints.create(tx, {
        url,
        description: input.description ?? null,
        eventTypes: input.eventTypes ?? ['*'],
        enabled,
        disabledAt: enabled ? null : now,
        disabledReason: enabled ? null : 'manual',
        failingSince: null,
        payloadVersion: input.payloadVersion ?? '1',
        signEd25519: input.signEd25519 ?? false,
        secretSealed: this.box.seal(secret),
        previousSecretSealed: null,
        previousSecretExpiresAt: null,
        secretRotatedAt: null,
      });
      const dto = this.toDto(endpoint);
      await this.changes.record(tx, actor, {
        action: 'webhook-endpoint.created',
        targetType: 'webhook-endpoint',
        targetId: dto.id,
        before: null,
        after: published(dto),
        event: { data: published(dto) },
      });
      return { ...dto, secret };
    });
  }

  async list(query: WebhookEndpointListQueryDto): Promise<WebhookEndpointListDto> {
    const rows = await this.endpoints.findMany(
      { enabled: query.enabled },
      query.limit + 1,
      afterIdOf(query.cursor),
    );
    return page(
      rows,
      query.limit,
      (row) => this.toDto(row),
      (row) => ({ id: row.id }),
    );
  }

  async get(id: string): Promise<WebhookEndpointDto> {
    return this.toDto(await this.require(undefined, id));
  }

  /** For the delivery side: the endpoint, or 404. */
  require(tx: EntityManager | undefined, id: string, lock = false): Promise<WebhookEndpointEntity> {
    return this.endpoints.getById(tx, id, lock).then((endpoint) => {
      if (endpoint === null) {
        throw new WebhookEndpointNotFound();
      }
      return endpoint;
    });
  }

  async update(
    actor: Actor,
    id: string,
    version: number,
    changes: UpdateWebhookEndpointDto,
  ): Promise<WebhookEndpointDto> {
    const url = changes.url === undefined ? undefined : this.checkUrl(changes.url);
    return this.transactions.run(async (tx) => {
      const endpoint = await this.require(tx, id, true);
      if (endpoint.version !== version) {
        throw new StaleVersion();
      }
      const before = this.toDto(endpoint);
      const next = {
        url: url ?? endpoint.url,
        description: changes.description === undefined ? endpoint.description : changes.description,
        eventTypes: changes.eventTypes ?? endpoint.eventTypes,
        enabled: changes.enabled ?? endpoint.enabled,
        payloadVersion: changes.payloadVersion ?? endpoint.payloadVersion,
        signEd25519: changes.signEd25519 ?? endpoint.signEd25519,
      };
      const fields = EDITABLE.filter((f) => !isDeepStrictEqual(endpoint[f], next[f]));
      if (fields.length === 0) {
        return before;
      }
      const now = this.clock.now();
      if (next.enabled && !endpoint.enabled) {
        // Re-enabled: a clean slate. What failed meanwhile stays failed until recovered.
        Object.assign(endpoint, { disabledAt: null, disabledReason: null, failingSince: null });
      } else if (!next.enabled && endpoint.enabled) {
        Object.assign(endpoint, { disabledAt: now, disabledReason: 'manual' });
        await this.deliveries.failPending(tx, id, now, 'Endpoint disabled');
      }
      const saved = await this.endpoints.save(tx, Object.assign(endpoint, next));
      const dto = this.toDto(saved);
      await this.changes.record(tx, actor, {
        action: 'webhook-endpoint.updated',
        targetType: 'webhook-endpoint',
        targetId: id,
        before: published(before),
        after: published(dto),
        metadata: { fields },
        event: { data: published(dto) },
      });
      return dto;
    });
  }

  /** Deletes the endpoint with its deliveries and their attempt log. */
  async delete(actor: Actor, id: string): Promise<void> {
    await this.transactions.run(async (tx) => {
      const endpoint = await this.require(tx, id, true);
      await this.endpoints.delete(tx, id);
      const before = published(this.toDto(endpoint));
      await this.changes.record(tx, actor, {
        action: 'webhook-endpoint.deleted',
        targetType: 'webhook-endpoint',
        targetId: id,
        before,
        after: null,
        event: { data: before },
      });
    });
  }

  /**
   * A new secret, shown once. The previous one keeps signing beside it for WEBHOOK_SECRET_OVERLAP_HOURS, so
   * receivers can switch without losing a message; a second rotation within that window drops the oldest.
   */
  async rotateSecret(
    actor: Actor,
    id: string,
    requested: string | undefined,
  ): Promise<WebhookEndpointWithSecretDto> {
    const secret = this.checkSecret(requested);
    return this.transactions.run(async (tx) => {
      const endpoint = await this.require(tx, id, true);
      const now = this.clock.now();
      const overlapMs = this.config.webhooks.secretOverlapHours * 3_600_000;
      Object.assign(endpoint, {
        previousSecretSealed: overlapMs > 0 ? endpoint.secretSealed : null,
        previousSecretExpiresAt: overlapMs > 0 ? new Date(now.getTime() + overlapMs) : null,
        secretSealed: this.box.seal(secret),
        secretRotatedAt: now,
      });
      const dto = this.toDto(await this.endpoints.save(tx, endpoint));
      await this.changes.record(tx, actor, {
        action: 'webhook-endpoint.secret-rotated',
        targetType: 'webhook-endpoint',
        targetId: id,
        metadata: { previousValidUntil: dto.previousSecretExpiresAt },
        event: { data: published(dto) },
      });
      return { ...dto, secret };
    });
  }

  /**
   * Called by the dispatcher: a 410 (`gone`) or days without a success (`failing`). Its pending deliveries
   * fail. Of several instances reaching the same verdict, one records it. Returns whether this call did.
   */
  async disableForDelivery(
    id: string,
    reason: Exclude<DisabledReason, 'manual'>,
    details: Record<string, unknown>,
  ): Promise<boolean> {
    return this.transactions.run(async (tx) => {
      const now = this.clock.now();
      const endpoint = await this.endpoints.disableIfEnabled(tx, id, reason, now);
      if (endpoint === null) {
        return false;
      }
      await this.deliveries.failPending(tx, id, now, `Endpoint disabled (${reason})`);
      const dto = this.toDto(endpoint);
      await this.changes.record(tx, systemActor(), {
        action: 'webhook-endpoint.disabled',
        targetType: 'webhook-endpoint',
        targetId: id,
        before: { enabled: true },
        after: { enabled: false },
        metadata: { reason, ...details },
        event: { data: published(dto) },
      });
      return true;
    });
  }

  toDto(endpoint: WebhookEndpointEntity): WebhookEndpointDto {
    const previous = endpoint.previousSecretExpiresAt;
    return {
      id: endpoint.id,
      url: endpoint.url,
      description: endpoint.description,
      eventTypes: endpoint.eventTypes,
      enabled: endpoint.enabled,
      disabledAt: endpoint.disabledAt?.toISOString() ?? null,
      disabledReason: endpoint.disabledReason,
      failingSince: endpoint.failingSince?.toISOString() ?? null,
      payloadVersion: endpoint.payloadVersion,
      signEd25519: endpoint.signEd25519,
      secretRotatedAt: endpoint.secretRotatedAt?.toISOString() ?? null,
      previousSecretExpiresAt:
        previous !== null && previous.getTime() > this.clock.now().getTime()
          ? previous.toISOString()
          : null,
      createdAt: endpoint.createdAt.toISOString(),
      updatedAt: endpoint.updatedAt.toISOString(),
      version: endpoint.version,
    };
  }

  private checkUrl(raw: string): string {
    const check = checkEndpointUrl(raw, {
      allowHttp: this.config.webhooks.allowHttp,
      policy: this.policy,
    });
    if (!check.ok) {
      throw check.forbiddenAddress
        ? new WebhookAddressForbidden(check.reason)
        : new InvalidWebhookUrl(check.reason);
    }
    return check.url;
  }

  private checkSecret(requested: string | undefined): string {
    if (requested === undefined) {
      return newWebhookSecret();
    }
    if (secretKey(requested) === null) {
      throw new InvalidWebhookSecret();
    }
    return requested;
  }
}

/**
 * The endpoint as its events (which go to the other endpoints' receivers) and the audit log show it: the
 * URL's origin only. A path or query is often a credential itself (Slack, Zapier), and the secret never.
 */
function published(endpoint: WebhookEndpointDto) {
  const { url, ...rest } = endpoint;
  return { ...rest, urlOrigin: new URL(url).origin };
}
