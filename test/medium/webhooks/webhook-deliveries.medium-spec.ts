import { randomUUID } from 'node:crypto';

import { WebhookDeliveryService } from 'src/modules/webhooks/webhook-delivery.service';
import type { AttemptRecord, ClaimedDelivery } from 'src/modules/webhooks/webhook-queue.repository';
import type { WebhookDeliveryListQueryDto } from 'src/modules/webhooks/webhook.dto';
import { InvalidCursor } from 'src/platform/http/pagination';
import { deliveriesOf, newWebhookContext, ownerActor } from 'test/medium/webhooks/webhook-context';
import type { WebhookContext } from 'test/medium/webhooks/webhook-context';
import { createTestDatabase } from 'test/support/test-database';

const MINUTE = 60_000;
const noun = () => `n${randomUUID().replace(/-/g, '').slice(0, 10)}`;

/** The operator's actions on deliveries, against attempts still in flight. */
describe('webhook deliveries', () => {
  let ctx: WebhookContext;
  let service: WebhookDeliveryService;

  beforeAll(async () => {
    ctx = await newWebhookContext(await createTestDatabase());
    service = ctx.module.get(WebhookDeliveryService, { strict: false });
  });
  afterAll(async () => {
    await ctx.close();
  });

  /** One endpoint, one event, and the delivery claimed (with a one-minute lease) as an attempt starts. */
  async function claimedDelivery(): Promise<{ endpointId: string; claimed: ClaimedDelivery }> {
    const n = noun();
    const { id } = await ctx.newEndpoint({
      url: `https://hooks.example.com/${n}`,
      eventTypes: [`${n}.*`],
    });
    const event = await ctx.commitEvent(`${n}.happened`);
    await ctx.queue.fanOut(ctx.clock.now(), 1_000);
    const now = ctx.clock.now();
    const claimed = await ctx.queue.claimDue(
      now,
      new Date(now.getTime() + MINUTE),
      randomUUID(),
      100,
      16,
    );
    return { endpointId: id, claimed: claimed.find((c) => c.eventId === event)! };
  }

  /** The attempt that was in flight ends in a failure, and tries to settle its delivery. */
  function settleLate(claimed: ClaimedDelivery) {
    const now = ctx.clock.now();
    const attempt: AttemptRecord = {
      attempt: 1,
      startedAt: now,
      durationMs: 12,
      statusCode: 500,
      responseBody: null,
      errorClass: 'http-status',
      error: 'HTTP 500',
      succeeded: false,
    };
    return ctx.queue.complete(
      claimed,
      attempt,
      { kind: 'retry', nextAttemptAt: new Date(now.getTime() + 5_000) },
      now,
    );
  }

  it('lets no attempt from before a disable settle the delivery that recover queued again', async () => {
    const actor = ownerActor();
    const { endpointId, claimed } = await claimedDelivery();
    const version = (await ctx.endpoints.get(endpointId)).version;
    await ctx.endpoints.update(actor, endpointId, version, { enabled: false });
    await ctx.endpoints.update(actor, endpointId, version + 1, { enabled: true });
    const since = new Date(ctx.clock.now().getTime() - MINUTE).toISOString();
    expect(await service.recover(actor, endpointId, since)).toEqual({ requeued: 1, missed: 0 });

    expect(await settleLate(claimed)).toBeNull();
    expect((await deliveriesOf(ctx, [claimed.eventId]))[0]).toMatchObject({
      status: 'pending',
      attempts: 0,
    });
    expect((await ctx.endpoints.get(endpointId)).failingSince).toBeNull();
  });

  it('lets no attempt whose lease ran out settle a delivery retried by hand', async () => {
    const { claimed } = await claimedDelivery();
    ctx.clock.advance(MINUTE + 1_000);
    await service.retry(ownerActor(), claimed.id);

    expect(await settleLate(claimed)).toBeNull();
    expect((await deliveriesOf(ctx, [claimed.eventId]))[0]).toMatchObject({
      status: 'pending',
      attempts: 0,
    });
  });

  it.each([
    ['a year PostgreSQL cannot hold', '-200000-01-01T00:00:00.000Z'],
    ['a year with six digits', '+010000-01-01T00:00:00.000Z'],
    ['a loosely parsed time', '1'],
    ['a date without a time', '2026-01-01'],
    ['an impossible date', '2026-02-31T00:00:00.000Z'],
  ])('refuses a delivery cursor with %s', async (_, createdAt) => {
    const { endpointId } = await claimedDelivery();
    const cursor = Buffer.from(JSON.stringify({ createdAt, id: randomUUID() })).toString(
      'base64url',
    );
    const query = { limit: 20, cursor } as WebhookDeliveryListQueryDto;
    await expect(service.listForEndpoint(endpointId, query)).rejects.toBeInstanceOf(InvalidCursor);
  });

  it('pages deliveries with the cursors it hands out', async () => {
    const { endpointId } = await claimedDelivery();
    const n = noun();
    await ctx.endpoints.update(ownerActor(), endpointId, 1, { eventTypes: [`${n}.*`] });
    await ctx.commitEvent(`${n}.happened`);
    await ctx.queue.fanOut(ctx.clock.now(), 1_000);
    const first = await service.listForEndpoint(endpointId, {
      limit: 1,
    });
    expect(first.nextCursor).not.toBeNull();
    const second = await service.listForEndpoint(endpointId, {
      limit: 1,
      cursor: first.nextCursor!,
    });
    expect(second.data).toHaveLength(1);
    expect(second.data[0].id).not.toBe(first.data[0].id);
    expect(second.nextCursor).toBeNull();
  });
});
