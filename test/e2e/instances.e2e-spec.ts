import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { compactVerify, createLocalJWKSet } from 'jose';
import type { JSONWebKeySet } from 'jose';
import { Webhook } from 'standardwebhooks';
import { DataSource } from 'typeorm';

import { Role } from 'src/platform/auth/roles';
import { OutboxRepository } from 'src/platform/outbox/outbox.repository';
import { api, controlClock, signedInAdmin } from 'test/e2e/admin-session';
import type { AdminSession } from 'test/e2e/admin-session';
import { startTestApp } from 'test/e2e/test-app';
import type { TestApp } from 'test/e2e/test-app';
import { freePort } from 'test/support/global-setup';
import { startRedisServer } from '../../bench/redis-server';
import type { RedisServer } from '../../bench/redis-server';
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

const INSTANCES = 3;
const API_KEY_PER_MINUTE = 25;
const KEY_RING_REFRESH_SECONDS = 2;
const WEBHOOK_CONCURRENCY = 8;
const EVENTS = 500;

interface Instance {
  readonly server: ServerProcess;
  readonly baseUrl: string;
}

/**
 * Three built server processes (`npm run build` first) on one PostgreSQL and one real redis-server, as
 * three replicas behind a balancer; requests are spread over them. An in-process application on the same
 * database creates the admin and the data, as an operator's first instance would.
 */
describe('three instances on one database and one Redis', () => {
  let redis: RedisServer;
  let writer: TestApp;
  let owner: AdminSession;
  let receiver: WebhookReceiver;
  const instances: Instance[] = [];
  let productId: string;
  let customerId: string;

  const on = (i: number) => {
    const call = api({ baseUrl: instances[i % INSTANCES].baseUrl } as TestApp);
    return (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
      call(method, path, { token: owner.accessToken, body, headers });
  };

  beforeAll(async () => {
    redis = await startRedisServer();
    receiver = await startWebhookReceiver();
    const answer = receiver.respond;
    // Slow enough that attempts are in flight when an instance is killed.
    receiver.respond = (request, res) => setTimeout(() => answer(request, res), 10);
    const databaseUrl = await createTestDatabase();
    writer = await startTestApp({
      databaseUrl,
      env: {
        ...LOOPBACK_WEBHOOKS_ENV,
        WEBHOOK_DISPATCHER_ENABLED: 'false',
        RATE_LIMIT_ADMIN_PER_MINUTE: '100000',
      },
    });
    owner = await signedInAdmin(writer, [Role.Owner], { mfa: true, clock: controlClock(writer) });

    const env = {
      ...TEST_SECRETS,
      ...LOOPBACK_WEBHOOKS_ENV,
      NODE_ENV: 'test',
      DATABASE_URL: databaseUrl,
      REDIS_URL: redis.url,
      // Exact counting, not the outage policy: on a loaded machine a 250 ms timeout could send a check to
      // the per-instance fallback (rate-limit-redis.e2e-spec.ts tests that).
      REDIS_TIMEOUT_MS: '3000',
      LOG_LEVEL: 'warn',
      SIGNING_KEY_RING_REFRESH_SECONDS: String(KEY_RING_REFRESH_SECONDS),
      RATE_LIMIT_API_KEY_PER_MINUTE: String(API_KEY_PER_MINUTE),
      RATE_LIMIT_ADMIN_PER_MINUTE: '100000',
      RATE_LIMIT_ANONYMOUS_PER_MINUTE: '100000',
      RATE_LIMIT_VALIDATE_PER_MINUTE: '100000',
      WEBHOOK_POLL_INTERVAL_MS: '200',
      WEBHOOK_TIMEOUT_MS: '2000',
      WEBHOOK_CONCURRENCY: String(WEBHOOK_CONCURRENCY),
    };
    await Promise.all(
      Array.from({ length: INSTANCES }, async () => {
        const dataDir = mkdtempSync(join(tmpdir(), 'tessera-instance-'));
        chmodSync(dataDir, 0o755);
        const port = await freePort();
        const server = spawnServer({ ...env, PORT: String(port), DATA_DIR: dataDir });
        const baseUrl = `http://127.0.0.1:${port}`;
        instances.push({ server, baseUrl });
        await waitForStatus(`${baseUrl}/health/ready`, 200, 90_000);
      }),
    );

    productId = (await on(0)('POST', '/v1/products', { name: 'Scaled', code: 'scaled' })).body.id;
    customerId = (
      await on(1)('POST', '/v1/customers', { name: 'Hooli', email: 'it@hooli.example' })
    ).body.id;
  }, 150_000);
  afterAll(async () => {
    for (const { server } of instances) {
      server.child.kill('SIGKILL');
    }
    await writer?.close();
    await receiver?.close();
    await redis?.close();
  });

  async function newLicense(policy: Record<string, unknown>): Promise<{ id: string; key: string }> {
    const created = await on(2)('POST', '/v1/policies', { productId, name: 'P', ...policy });
    expect(created.status).toBe(201);
    const license = await on(0)('POST', '/v1/licenses', { policyId: created.body.id, customerId });
    expect(license.status).toBe(201);
    return { id: license.body.id, key: license.body.key };
  }

  it('admits exactly N requests of a per-minute limit of N, spread over the three', async () => {
    const key = await on(0)('POST', '/v1/api-keys', {
      name: 'spread',
      permissions: ['api-key.read'],
      expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    });
    expect(key.status).toBe(201);
    const responses = await Promise.all(
      Array.from({ length: API_KEY_PER_MINUTE * 3 }, (_, i) =>
        api({ baseUrl: instances[i % INSTANCES].baseUrl } as TestApp)('GET', '/v1/api-keys', {
          token: key.body.key as string,
        }),
      ),
    );
    const admitted = responses.filter((r) => r.status === 200);
    expect(admitted).toHaveLength(API_KEY_PER_MINUTE);
    const refused = responses.filter((r) => r.status !== 200);
    expect(refused.every((r) => r.status === 429 && r.body.code === 'RATE_LIMITED')).toBe(true);
    // Every instance admitted some and refused some: the count was one, not three.
    for (let i = 0; i < INSTANCES; i++) {
      const mine = responses.filter((_, j) => j % INSTANCES === i).map((r) => r.status);
      expect(mine).toContain(429);
    }
    const remaining = admitted.map((r) => Number(r.headers.get('ratelimit-remaining')));
    expect(remaining.sort((x, y) => x - y)).toEqual(
      Array.from({ length: API_KEY_PER_MINUTE }, (_, i) => i),
    );
  });

  it('creates exactly 5 machines from 100 concurrent activations over the three against a 5-seat license', async () => {
    const { id, key } = await newLicense({ floating: true, maxMachines: 5 });
    const responses = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        api({ baseUrl: instances[i % INSTANCES].baseUrl } as TestApp)(
          'POST',
          '/v1/licenses/actions/activate-machine',
          { body: { key, fingerprint: `fp-${i}` } },
        ),
      ),
    );
    expect(responses.filter((r) => r.status === 201)).toHaveLength(5);
    const refused = responses.filter((r) => r.status !== 201);
    expect(refused.every((r) => r.status === 422 && r.body.code === 'TOO_MANY_MACHINES')).toBe(
      true,
    );
    const [row] = await writer.app
      .get(DataSource)
      .query<{ n: string }[]>(`SELECT count(*) AS n FROM machines WHERE license_id = $1`, [id]);
    expect(row.n).toBe('5');
  });

  it('replays the same answer for an Idempotency-Key whichever instance gets the retry', async () => {
    const headers = { 'idempotency-key': `spread-${Date.now()}` };
    const body = { name: 'Retried Corp', email: 'billing@retried.example' };
    const first = await on(0)('POST', '/v1/customers', body, headers);
    expect(first.status).toBe(201);
    for (const i of [1, 2, 0]) {
      const retry = await on(i)('POST', '/v1/customers', body, headers);
      expect(retry.status).toBe(201);
      expect(retry.body).toEqual(first.body);
      expect(retry.headers.get('idempotent-replayed')).toBe('true');
    }
    const [row] = await writer.app
      .get(DataSource)
      .query<{ n: string }[]>(
        `SELECT count(*) AS n FROM customers WHERE email = 'billing@retried.example'`,
      );
    expect(row.n).toBe('1');
  });

  it('follows a key rotation made on one instance within the refresh interval; every answer verifies against one JWKS', async () => {
    const { key } = await newLicense({});
    const signedBy = async (i: number) => {
      const response = await fetch(`${instances[i].baseUrl}/v1/licenses/actions/validate-key`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ key, nonce: `n-${i}` }),
      });
      expect(response.status).toBe(200);
      const text = await response.text();
      const [protectedHeader, , signature] = response.headers.get('tessera-signature')!.split('.');
      const jws = `${protectedHeader}.${Buffer.from(text).toString('base64url')}.${signature}`;
      const kid = (
        JSON.parse(Buffer.from(protectedHeader, 'base64url').toString()) as { kid: string }
      ).kid;
      return { jws, kid, text };
    };

    const rotated = await on(0)('POST', '/v1/signing-keys/actions/rotate', { purpose: 'license' });
    expect(rotated.status).toBe(200);
    const rotatedAt = Date.now();
    const caughtUpAfterMs: number[] = [];
    for (let i = 0; i < INSTANCES; i++) {
      while ((await signedBy(i)).kid !== rotated.body.kid) {
        expect(Date.now() - rotatedAt).toBeLessThan(KEY_RING_REFRESH_SECONDS * 1000 + 3_000);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      caughtUpAfterMs.push(Date.now() - rotatedAt);
    }
    expect(caughtUpAfterMs.every((ms) => ms < KEY_RING_REFRESH_SECONDS * 1000 + 3_000)).toBe(true);

    // One JWKS (fetched from any instance) verifies the answers of all three.
    const jwks = (await on(1)('GET', '/v1/keys')).body as JSONWebKeySet;
    for (let i = 0; i < INSTANCES; i++) {
      const { jws, text } = await signedBy(i);
      const verified = await compactVerify(jws, createLocalJWKSet(jwks));
      expect(verified.protectedHeader.kid).toBe(rotated.body.kid);
      expect(Buffer.from(verified.payload).toString()).toBe(text);
    }
  });

  it('keeps one gapless, verifiable audit chain through 1000 concurrent mutations spread over the three', async () => {
    const WRITERS = 20;
    const PER_WRITER = 50;
    const before = await on(0)('GET', '/v1/audit/verify');
    expect(before.body).toMatchObject({ ok: true, pending: 0 });
    await Promise.all(
      Array.from({ length: WRITERS }, async (_, w) => {
        for (let n = 0; n < PER_WRITER; n++) {
          const created = await on(w + n)('POST', '/v1/customers', {
            name: `chain-${w}-${n}`,
            email: `c${w}-${n}@chain.example`,
          });
          expect(created.body).toMatchObject({ name: `chain-${w}-${n}` });
        }
      }),
    );
    // Read on another instance than most writes: it links what waits before it verifies.
    const after = await on(2)('GET', '/v1/audit/verify');
    expect(after.body).toMatchObject({ ok: true, pending: 0 });
    expect(after.body.checked).toBe(before.body.checked + WRITERS * PER_WRITER);
    const rows = await writer.app.get(DataSource).query<{ sequence: string; name: string }[]>(
      `SELECT a.sequence, c.name FROM audit_events a JOIN customers c ON a.target_id = c.id::text
       WHERE a.action = 'customer.created' AND c.name LIKE 'chain-%'
       ORDER BY a.sequence`,
    );
    expect(rows).toHaveLength(WRITERS * PER_WRITER);
    // Each writer sent its next mutation after the previous one's answer, that is after its commit:
    // whichever instances linked them, the chain holds each writer's mutations in the order made.
    for (let w = 0; w < WRITERS; w++) {
      const made = rows
        .map((row) => row.name.split('-'))
        .filter(([, writerOf]) => Number(writerOf) === w)
        .map(([, , n]) => Number(n));
      expect(made).toEqual(Array.from({ length: PER_WRITER }, (_, n) => n));
    }
  });

  it('delivers every one of 500 events, duplicates only from attempts in flight, while an instance is SIGKILLed mid-stream', async () => {
    const endpoint = await on(1)('POST', '/v1/webhook-endpoints', {
      url: `${receiver.url}/spread`,
      eventTypes: ['spread.*'],
    });
    expect(endpoint.status).toBe(201);
    const outbox = writer.app.get(OutboxRepository);
    const dataSource = writer.app.get(DataSource);
    const committed: string[] = [];
    const produce = async () => {
      for (let i = 0; i < EVENTS; i += 1) {
        committed.push(
          await dataSource.transaction(
            async (tx) =>
              (
                await outbox.add(tx, {
                  type: 'spread.happened',
                  aggregateType: 'spread',
                  aggregateId: '00000000-0000-4000-8000-0000000005ea',
                  data: { i },
                })
              ).id,
          ),
        );
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    };
    const producing = produce();
    await receiver.waitFor((r) => r.filter((x) => x.path === '/spread').length >= 100, 60_000);
    const victim = instances[2].server;
    victim.child.kill('SIGKILL');
    await victim.exited;
    expect(committed.length).toBeLessThan(EVENTS); // the stream was still running
    await producing;

    const wanted = new Set(committed.map((id) => `msg_${id}`));
    const ids = () =>
      receiver.received
        .filter((r) => r.path === '/spread')
        .map((r) => String(r.headers['webhook-id']));
    await receiver.waitFor(() => {
      const got = new Set(ids());
      return [...wanted].every((id) => got.has(id));
    }, 90_000);
    // Let anything that would arrive twice arrive.
    await new Promise((resolve) => setTimeout(resolve, 1_000));

    const delivered = ids();
    expect(new Set(delivered).size).toBe(EVENTS);
    expect(delivered.filter((id) => !wanted.has(id))).toEqual([]);
    // At least once: only the killed instance's attempts in flight (one per slot) may come twice.
    expect(delivered.length - EVENTS).toBeLessThanOrEqual(WEBHOOK_CONCURRENCY);
    const secret = endpoint.body.secret as string;
    for (const request of receiver.received.filter((r) => r.path === '/spread')) {
      expect(() => new Webhook(secret).verify(request.body, webhookHeaders(request))).not.toThrow();
    }
    // The two survivors still serve.
    for (const i of [0, 1]) {
      expect((await fetch(`${instances[i].baseUrl}/health/ready`)).status).toBe(200);
    }
  }, 150_000);
});
