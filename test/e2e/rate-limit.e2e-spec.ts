import { Role } from 'src/platform/auth/roles';
import { api, controlClock, signedInAdmin } from 'test/e2e/admin-session';
import { startTestApp } from 'test/e2e/test-app';
import type { TestApp } from 'test/e2e/test-app';

describe('rate limits', () => {
  let t: TestApp;
  let request: ReturnType<typeof api>;

  beforeAll(async () => {
    t = await startTestApp({
      env: {
        RATE_LIMIT_AUTH_PER_MINUTE: '6',
        RATE_LIMIT_ANONYMOUS_PER_MINUTE: '1000',
        RATE_LIMIT_ADMIN_PER_MINUTE: '1000',
        RATE_LIMIT_API_KEY_PER_MINUTE: '3',
      },
    });
    request = api(t);
  });
  afterAll(async () => {
    await t.close();
  });

  it('limits sign-in attempts per IP and answers 429 problem+json with Retry-After and RateLimit headers', async () => {
    const statuses: number[] = [];
    let last!: Awaited<ReturnType<typeof request>>;
    for (let i = 0; i < 10; i++) {
      last = await request('POST', '/v1/auth/login', {
        body: { email: `x${i}@example.com`, password: 'whatever-it-is' },
      });
      statuses.push(last.status);
    }
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    expect(last.status).toBe(429);
    expect(last.body).toMatchObject({ code: 'RATE_LIMITED', retryAfter: expect.any(Number) });
    expect(Number(last.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('gives each IP one sign-in budget across login, refresh and MFA', async () => {
    for (let i = 0; i < 6; i++) {
      await request('POST', '/v1/auth/refresh', { body: {} });
    }
    const mfa = await request('POST', '/v1/auth/mfa/verify', { body: { code: '123456' } });
    expect(mfa.status).toBe(429);
    expect(mfa.body).toMatchObject({ code: 'RATE_LIMITED' });
    const login = await request('POST', '/v1/auth/login', {
      body: { email: 'someone@example.com', password: 'whatever-it-is' },
    });
    expect(login.status).toBe(429);
  });

  it('gives each API key its own budget, and reports it in RateLimit-* headers', async () => {
    const fresh = await startTestApp({
      env: {
        RATE_LIMIT_API_KEY_PER_MINUTE: '3',
        RATE_LIMIT_AUTH_PER_MINUTE: '1000',
        RATE_LIMIT_ADMIN_PER_MINUTE: '1000',
      },
    });
    try {
      const clock = controlClock(fresh);
      const owner = await signedInAdmin(fresh, [Role.Owner], { mfa: true, clock });
      const call = api(fresh);
      const newKey = async (name: string): Promise<string> =>
        (
          await call('POST', '/v1/api-keys', {
            token: owner.accessToken,
            body: {
              name,
              permissions: ['api-key.read'],
              expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
            },
          })
        ).body.key;
      const a = await newKey('a');
      const b = await newKey('b');
      const first = await call('GET', '/v1/api-keys', { token: a });
      expect(first.headers.get('ratelimit-limit')).toBe('3');
      expect(first.headers.get('ratelimit-remaining')).toBe('2');
      await call('GET', '/v1/api-keys', { token: a });
      await call('GET', '/v1/api-keys', { token: a });
      expect((await call('GET', '/v1/api-keys', { token: a })).status).toBe(429);
      expect((await call('GET', '/v1/api-keys', { token: b })).status).toBe(200);
    } finally {
      await fresh.close();
    }
  });

  it('gives each IP the validate budget once, across the raw validate-key route and the throttled key routes', async () => {
    const fresh = await startTestApp({
      env: { RATE_LIMIT_VALIDATE_PER_MINUTE: '5', RATE_LIMIT_ANONYMOUS_PER_MINUTE: '1000' },
    });
    try {
      const call = api(fresh);
      const key = 'AAAAA-BBBBB-CCCCC-DDDDD-EEEEE-FFFFF';
      const validate = () => call('POST', '/v1/licenses/actions/validate-key', { body: { key } });
      const heartbeat = () =>
        call('POST', '/v1/licenses/actions/heartbeat', { body: { key, fingerprint: 'fp' } });
      const deactivate = () =>
        call('POST', '/v1/licenses/actions/deactivate-machine', {
          body: { key, fingerprint: 'fp' },
        });
      const first = await validate();
      expect(first.status).toBe(200);
      expect(first.headers.get('ratelimit-remaining')).toBe('4');
      expect((await validate()).status).toBe(200);
      // The raw route and the Nest routes count in one window: 3rd and 4th hit of 5.
      const third = await heartbeat();
      expect(third.status).toBe(401);
      // Nest's throttler names the header after the throttler.
      expect(third.headers.get('ratelimit-remaining-validate')).toBe('2');
      expect((await deactivate()).status).toBe(401);
      expect((await validate()).status).toBe(200);
      // The budget is spent, whichever route asks next.
      expect((await heartbeat()).status).toBe(429);
      expect((await deactivate()).status).toBe(429);
      const refused = await validate();
      expect(refused.status).toBe(429);
      expect(refused.body).toMatchObject({ code: 'RATE_LIMITED' });
    } finally {
      await fresh.close();
    }
  });
});
