import { WebhookDeliveryService } from 'src/modules/webhooks/webhook-delivery.service';
import { newWebhookContext, ownerActor } from 'test/medium/webhooks/webhook-context';
import type { WebhookContext } from 'test/medium/webhooks/webhook-context';
import { createTestDatabase } from 'test/support/test-database';

/** What the `webhook-endpoint.*` events (sent to every other subscribed endpoint) and the audit log reveal. */
describe('webhook endpoint events', () => {
  let ctx: WebhookContext;

  beforeAll(async () => {
    ctx = await newWebhookContext(await createTestDatabase());
  });
  afterAll(async () => {
    await ctx.close();
  });

  const eventsOf = (id: string) =>
    ctx.dataSource.query<Array<{ type: string; sequence: string; data: Record<string, unknown> }>>(
      `SELECT type, sequence, data FROM outbox_events WHERE aggregate_id = $1 ORDER BY created_at`,
      [id],
    );

  it('tells other endpoints and the audit log only the origin of an endpoint URL, never its path or query', async () => {
    const actor = ownerActor();
    const { id, secret } = await ctx.newEndpoint({
      url: 'https://hooks.chat.example:8443/services/T0/B0/s3cretPath?token=s3cretQuery',
      eventTypes: ['license.*'],
    });
    await ctx.endpoints.update(actor, id, (await ctx.endpoints.get(id)).version, {
      url: 'https://hooks.chat.example:8443/services/T0/B0/n3wPath?token=n3wQuery',
    });
    const rotated = await ctx.endpoints.rotateSecret(actor, id, undefined);
    await ctx.endpoints.disableForDelivery(id, 'gone', { statusCode: 410 });
    await ctx.endpoints.delete(actor, id);

    const events = await eventsOf(id);
    expect(events.map((e) => e.type)).toEqual([
      'webhook-endpoint.created',
      'webhook-endpoint.updated',
      'webhook-endpoint.secret-rotated',
      'webhook-endpoint.disabled',
      'webhook-endpoint.deleted',
    ]);
    for (const { data } of events) {
      expect(data).toMatchObject({ id, urlOrigin: 'https://hooks.chat.example:8443' });
      expect(data).not.toHaveProperty('url');
    }
    await ctx.linkAudit();
    const audit = await ctx.dataSource.query<Array<{ action: string; entry: string }>>(
      `SELECT action, json_build_array(changes, metadata)::text AS entry FROM audit_events
       WHERE target_id = $1`,
      [id],
    );
    expect(audit).toHaveLength(5);
    const updated = audit.find((row) => row.action === 'webhook-endpoint.updated')!;
    // A change of path or query alone shows in the fields changed, not in values.
    expect(JSON.parse(updated.entry)[1]).toEqual({ fields: ['url'] });
    const revealed = JSON.stringify([events, audit]);
    for (const hidden of [
      's3cret',
      'n3w',
      '/services/',
      secret.slice(6),
      rotated.secret.slice(6),
    ]) {
      expect(revealed).not.toContain(hidden);
    }
  });

  it("keeps test events out of the endpoint's sequence, so its subscribers see no gap", async () => {
    const { id } = await ctx.newEndpoint({ url: 'https://hooks.example.com/seq' });
    const sent = await ctx.module
      .get(WebhookDeliveryService, { strict: false })
      .sendTest(ownerActor(), id, { ping: true });
    await ctx.endpoints.update(ownerActor(), id, 1, { description: 'Renamed' });

    expect((await eventsOf(id)).map((e) => [e.type, Number(e.sequence)])).toEqual([
      ['webhook-endpoint.created', 1],
      ['webhook.test', 1],
      ['webhook-endpoint.updated', 2],
    ]);
    const [test] = await ctx.dataSource.query<Array<{ aggregate_type: string }>>(
      `SELECT aggregate_type FROM outbox_events WHERE id = $1`,
      [sent.eventId],
    );
    expect(test.aggregate_type).toBe('webhook-test');
  });
});
