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

  it('gives up on a signature that takes too long, before the lease could run out, without counting an attempt', async () => {
    const signing = { sign: () => new Promise<never>(() => undefined) }; // an HSM that never answers
    const ctx = await newWebhookContext(await createTestDatabase(), {}, [
      [SigningService, signing],
    ]);
    const receiver = await startWebhookReceiver();
    try {
      const endpoint = await ctx.newEndpoint({
        url: `${receiver.url}/hung`,
        eventTypes: ['license.*'],
        signEd25519: true,
      });
      const event = await ctx.commitEvent();
      const started = Date.now();
      expect((await ctx.worker.runOnce()).attempted).toBe(1);
      // Well within the lease's margin past WEBHOOK_TIMEOUT_MS.
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(receiver.received).toHaveLength(0);
      expect((await deliveriesOf(ctx, [event]))[0]).toMatchObject({
        status: 'pending',
        attempts: 0,
      });
      const log = await ctx.dataSource.query<{ error_class: string; error: string }[]>(
        `SELECT a.error_class, a.error FROM webhook_attempts a
         JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.event_id = $1`,
        [event],
      );
      expect(log).toEqual([{ error_class: 'signing', error: 'Signing took longer than 3000 ms' }]);
      expect((await ctx.endpoints.get(endpoint.id)).failingSince).toBeNull();
    } finally {
      await ctx.close();
      await receiver.close();
    }
  });

  it('never claims again a delivery it is still attempting, even once its lease ran out', async () => {
    let signed: () => void = () => undefined;
    let calls = 0;
    const signing = {
      sign: async (purpose: string, message: Buffer) => {
        calls += 1;
        if (calls === 1) {
          await new Promise<void>((resolve) => (signed = resolve));
        }
        return { kid: `${purpose}-test`, alg: 'EdDSA', signature: message.subarray(0, 64) };
      },
    };
    const ctx = await newWebhookContext(await createTestDatabase(), {}, [
      [SigningService, signing],
    ]);
    const receiver = await startWebhookReceiver();
    try {
      await ctx.newEndpoint({
        url: `${receiver.url}/slow-sign`,
        eventTypes: ['license.*'],
        signEd25519: true,
      });
      const event = await ctx.commitEvent();
      const first = ctx.worker.runOnce();
      while (calls === 0) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      // The instance's clock jumps past the lease while the first attempt is still signing.
      ctx.clock.advance(60_000);
      expect((await ctx.worker.runOnce()).attempted).toBe(0);
      signed();
      expect((await first).attempted).toBe(1);

      expect(receiver.received).toHaveLength(1);
      expect(calls).toBe(1);
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
