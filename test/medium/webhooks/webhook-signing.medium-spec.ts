import { SigningService } from 'src/modules/signing/signing.service';
import { deliveriesOf, newWebhookContext } from 'test/medium/webhooks/webhook-context';
import { createTestDatabase } from 'test/support/test-database';
import { startWebhookReceiver } from 'test/support/webhook-receiver';

describe('webhook signing failures', () => {
  it('defers a delivery it cannot sign, without counting an attempt or blaming the endpoint', async () => {
    let available = false;
    const signing = {
      sign: (purpose: string, message: Buffer) => {
        if (!available) {
          return Promise.reject(new Error('CKR_DEVICE_REMOVED'));
        }
        return Promise.resolve({
          kid: `${purpose}-test`,
          alg: 'EdDSA',
          signature: message.subarray(0, 64),
        });
      },
    };
    const ctx = await newWebhookContext(await createTestDatabase(), {}, [
      [SigningService, signing],
    ]);
    const receiver = await startWebhookReceiver();
    try {
      const endpoint = await ctx.newEndpoint({
        url: `${receiver.url}/signed`,
        eventTypes: ['license.*'],
        signEd25519: true,
      });
      const event = await ctx.commitEvent();
      expect((await ctx.worker.runOnce()).attempted).toBe(1);
      expect(receiver.received).toHaveLength(0);
      const [delivery] = await deliveriesOf(ctx, [event]);
      expect(delivery).toMatchObject({ status: 'pending', attempts: 0 });
      const log = await ctx.dataSource.query<{ error_class: string; error: string }[]>(
        `SELECT a.error_class, a.error FROM webhook_attempts a
         JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.event_id = $1`,
        [event],
      );
      expect(log).toEqual([{ error_class: 'signing', error: 'CKR_DEVICE_REMOVED' }]);
      expect((await ctx.endpoints.get(endpoint.id)).failingSince).toBeNull();

      // Not before 30 s; then it goes out signed.
      ctx.clock.advance(20_000);
      expect((await ctx.worker.runOnce()).attempted).toBe(0);
      available = true;
      ctx.clock.advance(11_000);
      expect((await ctx.worker.runOnce()).attempted).toBe(1);
      expect(String(receiver.received[0].headers['webhook-signature'])).toMatch(/^v1,\S+ v1a,\S+$/);
      expect(receiver.received[0].headers['webhook-signature-kid']).toBe('webhook-test');
      expect((await deliveriesOf(ctx, [event]))[0]).toMatchObject({
        status: 'delivered',
        attempts: 1,
      });
    } finally {
      await ctx.close();
      await receiver.close();
    }
  });
});
