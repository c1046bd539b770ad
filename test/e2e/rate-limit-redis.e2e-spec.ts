import { Metrics } from 'src/platform/metrics/metrics';
import { api } from 'test/e2e/admin-session';
import { startTestApp } from 'test/e2e/test-app';
import type { TestApp } from 'test/e2e/test-app';
import { startRedisServer } from '../../bench/redis-server';
import type { RedisServer } from '../../bench/redis-server';
import { createTestDatabase } from 'test/support/test-database';

const KEY = 'AAAAA-BBBBB-CCCCC-DDDDD-EEEEE-FFFFF';
// Long enough that a loaded machine's slow answer is not taken for an outage in the counting test.
const TIMEOUT_MS = 1_000;
const RETRY_MS = 300;

/** Two applications on one database and one real redis-server, as two instances behind a balancer. */
describe('rate limits shared through Redis', () => {
  let redis: RedisServer;
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    redis = await startRedisServer();
    const databaseUrl = await createTestDatabase();
    const env = {
      REDIS_URL: redis.url,
      REDIS_TIMEOUT_MS: String(TIMEOUT_MS),
      REDIS_RETRY_INTERVAL_MS: String(RETRY_MS),
      RATE_LIMIT_VALIDATE_PER_MINUTE: '5',
      RATE_LIMIT_AUTH_PER_MINUTE: '4',
      RATE_LIMIT_ANONYMOUS_PER_MINUTE: '1000',
    };
    a = await startTestApp({ databaseUrl, env });
    b = await startTestApp({ databaseUrl, env: { ...env, REDIS_KEY_PREFIX: 'tessera:' } });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await redis.close();
  });

  const validate = (t: TestApp) =>
    api(t)('POST', '/v1/licenses/actions/validate-key', { body: { key: KEY } });
  let attempt = 0;
  // A new email each time: the per-account lockout must not be what answers.
  const login = (t: TestApp) =>
    api(t)('POST', '/v1/auth/login', {
      body: { email: `nobody-${(attempt += 1)}@example.com`, password: 'not-the-password' },
    });
  const metric = async (t: TestApp, line: string): Promise<number> => {
    const text = await t.app.get(Metrics).render();
    const found = text.split('\n').find((l) => l.startsWith(`${line} `));
    return Number(found?.split(' ')[1]);
  };

  it('counts one window over both instances, with the same RateLimit-* headers', async () => {
    const statuses: number[] = [];
    const remaining: (string | null)[] = [];
    for (const t of [a, b, a, b, a, b, a]) {
      const response = await validate(t);
      statuses.push(response.status);
      remaining.push(response.headers.get('ratelimit-remaining'));
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    expect(remaining).toEqual(['4', '3', '2', '1', '0', '0', '0']);
    const refused = await validate(a);
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    expect(refused.body).toMatchObject({ code: 'RATE_LIMITED' });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);

    // The sign-in budget (Nest's guard) too: 4 attempts in all, whichever instance gets them.
    const signIns = [];
    for (const t of [b, a, b, a, b]) {
      signIns.push((await login(t)).status);
    }
    expect(signIns).toEqual([401, 401, 401, 401, 429]);
  });

  it('while Redis is down: sign-in answers 503 within the timeout, validation counts per instance; recovers when Redis returns', async () => {
    await redis.stop();
    let started = Date.now();
    const refused = await login(a);
    const refusedAfterMs = Date.now() - started;
    expect(refused.status).toBe(503);
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    expect(refused.body).toMatchObject({ code: 'RATE_LIMIT_UNAVAILABLE' });
    expect(refusedAfterMs).toBeLessThan(TIMEOUT_MS + 500);

    // Per instance now: each instance's own window starts at 1, the shared one being out of reach.
    started = Date.now();
    const local = await validate(b);
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 500);
    expect(local.status).toBe(200);
    expect(local.headers.get('ratelimit-remaining')).toBe('4');

    const ready = await api(a)('GET', '/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.info.rateLimitStore).toMatchObject({
      status: 'up',
      store: 'redis',
      reachable: false,
      failingSince: expect.any(String),
      policy: expect.stringContaining('503'),
    });
    // Nothing that could name Redis's address on this unauthenticated route.
    expect(JSON.stringify(ready.body)).not.toContain(String(redis.port));
    expect(await metric(a, 'tessera_rate_limit_store_up')).toBe(0);
    expect(
      await metric(a, 'tessera_rate_limit_store_fallbacks_total{budget="auth"}'),
    ).toBeGreaterThan(0);

    await redis.start();
    started = Date.now();
    let status = 0;
    while (Date.now() - started < 10_000) {
      status = (await login(a)).status;
      if (status !== 503) {
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // The restarted Redis is empty: a fresh shared window, no restart of Tessera.
    expect(status).toBe(401);
    expect(Date.now() - started).toBeLessThan(RETRY_MS + 2_000);
    expect((await login(b)).status).toBe(401);
    const back = await api(b)('GET', '/health/ready');
    expect(back.body.info.rateLimitStore).toMatchObject({ reachable: true });
    expect(await metric(a, 'tessera_rate_limit_store_up')).toBe(1);
  });
});
