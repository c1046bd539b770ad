import {
  attemptCount,
  deliveriesOf,
  newWebhookContext,
} from 'test/medium/webhooks/webhook-context';
import type { WebhookContext } from 'test/medium/webhooks/webhook-context';
import { createTestDatabase } from 'test/support/test-database';
import { startWebhookReceiver } from 'test/support/webhook-receiver';
import type { WebhookReceiver } from 'test/support/webhook-receiver';

describe('webhook retention', () => {
  let ctx: WebhookContext;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    ctx = await newWebhookContext(await createTestDatabase(), {
      WEBHOOK_RETENTION_DAYS: '7',
      WEBHOOK_DISABLE_AFTER_DAYS: '30',
    });
    receiver = await startWebhookReceiver();
    receiver.respond = (request, res) => {
      res.writeHead(request.path === '/failing' ? 500 : 200).end();
    };
  });
  afterAll(async () => {
    await ctx.close();
    await receiver.close();
  });

  it('deletes finished deliveries and their attempt log after the retention period, keeps the rest', async () => {
    await ctx.newEndpoint({ url: `${receiver.url}/ok`, eventTypes: ['license.*'] });
    await ctx.newEndpoint({ url: `${receiver.url}/failing`, eventTypes: ['license.*'] });
    const old = [await ctx.commitEvent(), await ctx.commitEvent()];
    await ctx.worker.runOnce();
    expect((await deliveriesOf(ctx, old)).map((d) => d.status).sort()).toEqual([
      'delivered',
      'delivered',
      'pending',
      'pending',
    ]);

    ctx.clock.advance(8 * 86_400_000);
    const recent = await ctx.commitEvent();
    await ctx.worker.runOnce(); // the old pending ones are retried (and fail) again, the new one is delivered

    expect(await ctx.worker.pruneFinished()).toBe(2);
    const kept = await deliveriesOf(ctx, [...old, recent]);
    expect(
      kept.map((d) => `${d.event_id === recent ? 'recent' : 'old'} ${d.status}`).sort(),
    ).toEqual(['old pending', 'old pending', 'recent delivered', 'recent pending']);
    expect(await attemptCount(ctx, old)).toBe(4); // the two failing deliveries' attempts only

    // Failed deliveries go the same way once they have been finished for the retention period.
    await ctx.dataSource.query(
      `UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL, finished_at = $1
       WHERE status = 'pending'`,
      [ctx.clock.now()],
    );
    expect(await ctx.worker.pruneFinished()).toBe(0);
    ctx.clock.advance(8 * 86_400_000);
    expect(await ctx.worker.pruneFinished()).toBe(4);
    expect(await deliveriesOf(ctx, [...old, recent])).toEqual([]);
  });
});
