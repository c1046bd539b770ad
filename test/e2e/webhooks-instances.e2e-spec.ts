import { randomUUID } from 'node:crypto';

import { Webhook } from 'standardwebhooks';
import { DataSource } from 'typeorm';

import { Role } from 'src/platform/auth/roles';
import { api, signedInAdmin } from 'test/e2e/admin-session';
import { startTestApp } from 'test/e2e/test-app';
import type { TestApp } from 'test/e2e/test-app';
import { createTestDatabase } from 'test/support/test-database';
import {
  LOOPBACK_WEBHOOKS_ENV,
  startWebhookReceiver,
  webhookHeaders,
} from 'test/support/webhook-receiver';
import type { WebhookReceiver } from 'test/support/webhook-receiver';

/** Two full applications on one database, both running the dispatcher, as two replicas would. */
describe('webhooks with two instances', () => {
  const apps: TestApp[] = [];
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    const databaseUrl = await createTestDatabase();
    const env = {
      ...LOOPBACK_WEBHOOKS_ENV,
      WEBHOOK_POLL_INTERVAL_MS: '100',
      WEBHOOK_CONCURRENCY: '8',
      RATE_LIMIT_ADMIN_PER_MINUTE: '100000',
      RATE_LIMIT_AUTH_PER_MINUTE: '1000',
    };
    apps.push(await startTestApp({ databaseUrl, env }), await startTestApp({ databaseUrl, env }));
    receiver = await startWebhookReceiver();
    const answer = receiver.respond;
    // A few milliseconds per request, so that both instances have deliveries in flight at once.
    receiver.respond = (request, res) => setTimeout(() => answer(request, res), 5);
  });
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    await receiver.close();
  });

  it('delivers each event to each endpoint exactly once', async () => {
    const [a, b] = apps;
    const ownerA = await signedInAdmin(a, [Role.Owner]);
    const ownerB = await signedInAdmin(b, [Role.Owner]);
    const secrets = new Map<string, string>();
    for (const path of ['/one', '/two']) {
      const created = await api(a)('POST', '/v1/webhook-endpoints', {
        token: ownerA.accessToken,
        body: { url: `${receiver.url}${path}`, eventTypes: ['customer.*'] },
      });
      expect(created.status).toBe(201);
      secrets.set(path, created.body.secret);
    }

    // 60 customers, half through each instance, each announced by one customer.created event.
    const customers = await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        const [app, owner] = i % 2 === 0 ? [a, ownerA] : [b, ownerB];
        const response = await api(app)('POST', '/v1/customers', {
          token: owner.accessToken,
          body: { name: `Customer ${i}`, email: `c${i}-${randomUUID().slice(0, 6)}@example.com` },
        });
        expect(response.status).toBe(201);
        return response.body.id as string;
      }),
    );
    await receiver.waitFor((r) => r.length >= 120);
    // Anything sent twice would arrive within a few polls.
    await new Promise((resolve) => setTimeout(resolve, 1_000));

    expect(receiver.received).toHaveLength(120);
    for (const path of ['/one', '/two']) {
      const requests = receiver.received.filter((r) => r.path === path);
      const payloads = requests.map(
        (r) =>
          new Webhook(secrets.get(path)!).verify(r.body, webhookHeaders(r)) as {
            aggregate: { id: string };
          },
      );
      expect(payloads.map((p) => p.aggregate.id).sort()).toEqual([...customers].sort());
      expect(new Set(requests.map((r) => r.headers['webhook-id'])).size).toBe(60);
    }
    const [row] = await a.app.get(DataSource).query<{ attempts: string; deliveries: string }[]>(
      `SELECT (SELECT count(*) FROM webhook_attempts) AS attempts,
              (SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered') AS deliveries`,
    );
    expect(row).toEqual({ attempts: '120', deliveries: '120' });
  });
});
