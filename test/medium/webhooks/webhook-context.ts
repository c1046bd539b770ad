import { randomUUID } from 'node:crypto';

import type { Type } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { TestingModule } from '@nestjs/testing';
import { DataSource } from 'typeorm';

import { AuditLinker } from 'src/modules/audit/audit-linker';
import type { AppConfig } from 'src/config/app-config';
import { ConfigModule } from 'src/config/config.module';
import { AuditModule } from 'src/modules/audit/audit.module';
import { WebhookQueueRepository } from 'src/modules/webhooks/webhook-queue.repository';
import { WebhookDeliveryWorker } from 'src/modules/webhooks/webhook-delivery.worker';
import { WebhookEndpointService } from 'src/modules/webhooks/webhook-endpoint.service';
import type { CreateWebhookEndpointDto } from 'src/modules/webhooks/webhook.dto';
import { WebhookModule } from 'src/modules/webhooks/webhook.module';
import type { Actor } from 'src/platform/auth/actor';
import { permissionsOf, Role } from 'src/platform/auth/roles';
import { Clock } from 'src/platform/clock';
import { DatabaseModule } from 'src/platform/database/database.module';
import { OutboxModule } from 'src/platform/outbox/outbox.module';
import { OutboxRepository } from 'src/platform/outbox/outbox.repository';
import { PlatformModule } from 'src/platform/platform.module';
import { testConfig } from 'test/support/test-config';

/** A clock the test moves by hand. */
export class ManualClock extends Clock {
  private offsetMs = 0;
  override now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

export interface WebhookContext {
  readonly module: TestingModule;
  readonly dataSource: DataSource;
  readonly config: AppConfig;
  readonly clock: ManualClock;
  readonly worker: WebhookDeliveryWorker;
  readonly endpoints: WebhookEndpointService;
  readonly queue: WebhookQueueRepository;
  /** Creates an endpoint as an owner would; returns its id and secret. */
  newEndpoint(input: CreateWebhookEndpointDto): Promise<{ id: string; secret: string }>;
  /** Commits one outbox event (as any mutation does); returns its id. */
  commitEvent(type?: string, aggregateId?: string): Promise<string>;
  /** Links committed audit events into the chain, as readers of the log do: before reading it by SQL. */
  linkAudit(): Promise<void>;
  close(): Promise<void>;
}

export const WEBHOOK_TEST_ENV = {
  WEBHOOK_DISPATCHER_ENABLED: 'false',
  WEBHOOK_ALLOW_HTTP: 'true',
  WEBHOOK_ALLOWED_ADDRESSES: '127.0.0.1',
  WEBHOOK_TIMEOUT_MS: '3000',
  WEBHOOK_CONNECT_TIMEOUT_MS: '1000',
};

export function ownerActor(): Actor {
  return {
    type: 'admin',
    id: randomUUID(),
    permissions: permissionsOf([Role.Owner]),
    ip: '127.0.0.1',
    userAgent: 'jest',
    requestId: 'medium',
  };
}

/**
 * The webhooks module (with audit and outbox) on `databaseUrl`. Several contexts on one database are
 * several Tessera instances: each has its own dispatcher, pool and clock. The dispatcher runs only when
 * the test calls `worker.runOnce()`. `overrides` swap providers for fakes (a failing signer).
 */
export async function newWebhookContext(
  databaseUrl: string,
  env: Record<string, string> = {},
  overrides: Array<[token: Type, value: unknown]> = [],
): Promise<WebhookContext> {
  const config = testConfig({ ...WEBHOOK_TEST_ENV, ...env });
  const clock = new ManualClock();
  let builder = Test.createTestingModule({
    imports: [
      ConfigModule.forRoot(config),
      DatabaseModule.forRoot(config, databaseUrl),
      OutboxModule,
      PlatformModule,
      AuditModule,
      WebhookModule,
    ],
  })
    .overrideProvider(Clock)
    .useValue(clock);
  for (const [token, value] of overrides) {
    builder = builder.overrideProvider(token).useValue(value);
  }
  const module = await builder.compile();
  await module.init();
  const dataSource = module.get(DataSource);
  const endpoints = module.get(WebhookEndpointService, { strict: false });
  const outbox = module.get(OutboxRepository);
  return {
    module,
    dataSource,
    config,
    clock,
    worker: module.get(WebhookDeliveryWorker, { strict: false }),
    endpoints,
    queue: module.get(WebhookQueueRepository, { strict: false }),
    linkAudit: () => module.get(AuditLinker, { strict: false }).linkWaiting(),
    newEndpoint: async (input) => {
      const created = await endpoints.create(ownerActor(), input);
      return { id: created.id, secret: created.secret };
    },
    commitEvent: (type = 'license.suspended', aggregateId = randomUUID()) =>
      dataSource.transaction(async (tx) => {
        const event = await outbox.add(tx, {
          type,
          aggregateType: type.split('.')[0],
          aggregateId,
          data: { id: aggregateId },
        });
        return event.id;
      }),
    close: () => module.close(),
  };
}

export interface DeliveryState {
  endpoint_id: string;
  event_id: string;
  status: string;
  attempts: number;
}

/** The deliveries of these events, in no particular order. */
export async function deliveriesOf(
  ctx: WebhookContext,
  eventIds: string[],
): Promise<DeliveryState[]> {
  return ctx.dataSource.query<DeliveryState[]>(
    `SELECT endpoint_id, event_id, status, attempts FROM webhook_deliveries WHERE event_id = ANY($1)`,
    [eventIds],
  );
}

/** How many attempts were logged for the deliveries of these events. */
export async function attemptCount(ctx: WebhookContext, eventIds: string[]): Promise<number> {
  const [row] = await ctx.dataSource.query<{ n: string }[]>(
    `SELECT count(*) AS n FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
     WHERE d.event_id = ANY($1)`,
    [eventIds],
  );
  return Number(row.n);
}
