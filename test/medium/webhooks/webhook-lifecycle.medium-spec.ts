import { Client } from 'pg';

import { newWebhookContext } from 'test/medium/webhooks/webhook-context';
import type { WebhookContext } from 'test/medium/webhooks/webhook-context';
import { createTestDatabase } from 'test/support/test-database';
import { startWebhookReceiver } from 'test/support/webhook-receiver';
import type { WebhookReceiver } from 'test/support/webhook-receiver';

describe('webhook dispatcher wake-up', () => {
  let ctx: WebhookContext;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    // Polling once a minute: only the NOTIFY sent at commit can make the delivery prompt.
    ctx = await newWebhookContext(await createTestDatabase(), {
      WEBHOOK_DISPATCHER_ENABLED: 'true',
      WEBHOOK_POLL_INTERVAL_MS: '60000',
    });
    receiver = await startWebhookReceiver();
  });
  afterAll(async () => {
    await ctx.close();
    await receiver.close();
  });

  it('delivers an event moments after its transaction commits, without waiting for a poll', async () => {
    await ctx.newEndpoint({ url: `${receiver.url}/prompt`, eventTypes: ['license.*'] });
    for (let i = 0; i < 3; i += 1) {
      const committedAt = Date.now();
      const id = await ctx.commitEvent();
      await receiver.waitFor((r) => r.some((x) => x.headers['webhook-id'] === `msg_${id}`), 5_000);
      const got = receiver.received.find((x) => x.headers['webhook-id'] === `msg_${id}`)!;
      expect(got.receivedAt - committedAt).toBeLessThan(2_000);
    }
  });
});

describe('webhook dispatcher shutdown', () => {
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
  });
  afterAll(async () => {
    await receiver.close();
  });

  async function stateAfterClose(url: string, eventId: string) {
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{
        status: string;
        attempts: number;
        due: boolean;
        error_class: string | null;
      }>(
        `SELECT d.status, d.attempts, d.next_attempt_at <= now() + interval '1 minute' AS due,
                a.error_class
         FROM webhook_deliveries d LEFT JOIN webhook_attempts a ON a.delivery_id = d.id
         WHERE d.event_id = $1`,
        [eventId],
      );
      return rows;
    } finally {
      await client.end();
    }
  }

  it('lets an attempt in flight finish before the application closes', async () => {
    const url = await createTestDatabase();
    const ctx = await newWebhookContext(url, { WEBHOOK_DISPATCHER_ENABLED: 'true' });
    receiver.respond = (request, res) => setTimeout(() => res.writeHead(200).end(), 800);
    await ctx.newEndpoint({ url: `${receiver.url}/drain`, eventTypes: ['license.*'] });
    const id = await ctx.commitEvent();
    await receiver.waitFor((r) => r.some((x) => x.path === '/drain'));
    await ctx.close();
    expect(await stateAfterClose(url, id)).toEqual([
      { status: 'delivered', attempts: 1, due: null, error_class: null },
    ]);
  });

  it('aborts an attempt still running near the shutdown deadline and puts it back in the queue', async () => {
    const url = await createTestDatabase();
    const ctx = await newWebhookContext(url, {
      WEBHOOK_DISPATCHER_ENABLED: 'true',
      WEBHOOK_TIMEOUT_MS: '30000',
      SHUTDOWN_TIMEOUT_MS: '1000',
    });
    receiver.respond = () => undefined; // never answers
    await ctx.newEndpoint({ url: `${receiver.url}/stuck`, eventTypes: ['license.*'] });
    const id = await ctx.commitEvent();
    await receiver.waitFor((r) => r.some((x) => x.path === '/stuck'));
    const started = Date.now();
    await ctx.close();
    expect(Date.now() - started).toBeLessThan(3_000);
    // Due again at once for another instance, and the aborted attempt does not count.
    expect(await stateAfterClose(url, id)).toEqual([
      { status: 'pending', attempts: 0, due: true, error_class: 'aborted' },
    ]);
  });
});
