import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Webhook } from 'standardwebhooks';
import { DataSource } from 'typeorm';

import { Role } from 'src/platform/auth/roles';
import { OutboxRepository } from 'src/platform/outbox/outbox.repository';
import { api, signedInAdmin } from 'test/e2e/admin-session';
import { startTestApp } from 'test/e2e/test-app';
import type { TestApp } from 'test/e2e/test-app';
import { freePort } from 'test/support/global-setup';
import { spawnServer, waitForStatus } from 'test/support/server-process';
import type { ServerProcess } from 'test/support/server-process';
import { TEST_SECRETS } from 'test/support/test-config';
import { createTestDatabase } from 'test/support/test-database';
import {
  LOOPBACK_WEBHOOKS_ENV,
  startWebhookReceiver,
  webhookHeaders,
} from 'test/support/webhook-receiver';
import type { WebhookReceiver } from 'test/support/webhook-receiver';

const EVENTS = 400;
const CONCURRENCY = 8;

class RolledBack extends Error {}

/**
 * The built server (`npm run build` first) dispatches while this process commits a stream of events (and
 * rolls some back); the server is killed with SIGKILL mid-stream and started again.
 */
describe('webhook delivery across a crash', () => {
  let writer: TestApp;
  let receiver: WebhookReceiver;
  const servers: ServerProcess[] = [];

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    const answer = receiver.respond;
    // Slow enough that attempts are in flight when the kill comes.
    receiver.respond = (request, res) => setTimeout(() => answer(request, res), 10);
  });
  afterAll(async () => {
    for (const server of servers) {
      server.child.kill('SIGKILL');
    }
    await writer?.close();
    await receiver.close();
  });

  it('delivers every event committed before the kill at least once, and no rolled-back one', async () => {
    const databaseUrl = await createTestDatabase();
    // The writer shares the database and the encryption key, and runs no dispatcher of its own.
    writer = await startTestApp({
      databaseUrl,
      env: { ...LOOPBACK_WEBHOOKS_ENV, WEBHOOK_DISPATCHER_ENABLED: 'false' },
    });
    const owner = await signedInAdmin(writer, [Role.Owner]);
    const endpoint = await api(writer)('POST', '/v1/webhook-endpoints', {
      token: owner.accessToken,
      body: { url: `${receiver.url}/crash`, eventTypes: ['crash.*'] },
    });
    expect(endpoint.status).toBe(201);

    const dataDir = mkdtempSync(join(tmpdir(), 'tessera-crash-'));
    chmodSync(dataDir, 0o755);
    const port = await freePort();
    const env = {
      ...TEST_SECRETS,
      ...LOOPBACK_WEBHOOKS_ENV,
      NODE_ENV: 'test',
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      WEBHOOK_POLL_INTERVAL_MS: '200',
      WEBHOOK_TIMEOUT_MS: '2000',
      WEBHOOK_CONCURRENCY: String(CONCURRENCY),
    };
    const ready = `http://127.0.0.1:${port}/health/ready`;
    const first = spawnServer(env);
    servers.push(first);
    await waitForStatus(ready, 200, 60_000);

    const outbox = writer.app.get(OutboxRepository);
    const dataSource = writer.app.get(DataSource);
    const committed: string[] = [];
    const rolledBack: string[] = [];
    const produce = async () => {
      for (let i = 0; i < EVENTS; i += 1) {
        const event = {
          type: i % 5 === 4 ? 'crash.rolled-back' : 'crash.committed',
          aggregateType: 'crash',
          aggregateId: '00000000-0000-4000-8000-00000000c0de',
          data: { i },
        };
        if (i % 5 === 4) {
          await dataSource
            .transaction(async (tx) => {
              rolledBack.push((await outbox.add(tx, event)).id);
              throw new RolledBack();
            })
            .catch((error: unknown) => {
              if (!(error instanceof RolledBack)) {
                throw error;
              }
            });
        } else {
          committed.push(
            await dataSource.transaction(async (tx) => (await outbox.add(tx, event)).id),
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 4));
      }
    };
    const producing = produce();

    await receiver.waitFor((r) => r.length >= 60, 30_000);
    first.child.kill('SIGKILL');
    await first.exited;
    const deliveredBeforeKill = receiver.received.length;
    const committedBeforeKill = committed.length;
    expect(committedBeforeKill).toBeLessThan(EVENTS * 0.8); // the stream was still running
    await producing;

    const second = spawnServer(env);
    servers.push(second);
    await waitForStatus(ready, 200, 60_000);
    const wanted = new Set(committed.map((id) => `msg_${id}`));
    await receiver.waitFor((r) => {
      const got = new Set(r.map((x) => String(x.headers['webhook-id'])));
      return [...wanted].every((id) => got.has(id));
    }, 60_000);
    // Let anything that would arrive twice arrive.
    await new Promise((resolve) => setTimeout(resolve, 1_000));

    const ids = receiver.ids();
    const forbidden = new Set(rolledBack.map((id) => `msg_${id}`));
    expect(rolledBack.length).toBe(EVENTS / 5);
    expect(ids.filter((id) => forbidden.has(id))).toEqual([]);
    expect(ids.filter((id) => !wanted.has(id))).toEqual([]);
    // At least once: only attempts in flight at the kill (at most one per slot) may arrive twice.
    const duplicates = ids.length - new Set(ids).size;
    expect(duplicates).toBeLessThanOrEqual(CONCURRENCY);
    expect(deliveredBeforeKill).toBeGreaterThanOrEqual(60);
    for (const request of receiver.received) {
      expect(() =>
        new Webhook(endpoint.body.secret as string).verify(request.body, webhookHeaders(request)),
      ).not.toThrow();
    }
    // Rolled-back events took no number: the committed ones are exactly 1..n of their aggregate.
    const sequences = [...new Set(receiver.payloads().map((p) => p.sequence as number))];
    expect(sequences.sort((x, y) => x - y)).toEqual(committed.map((_, i) => i + 1));

    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });
});
