import { Role } from 'src/platform/auth/roles';
import { api, PASSWORD, signedInAdmin } from 'test/e2e/admin-session';
import { startTestApp } from 'test/e2e/test-app';
import type { TestApp } from 'test/e2e/test-app';

// The browser session of the admin console: the refresh token in an HttpOnly cookie, never in a body.
describe('refresh cookie (X-Tessera-Session: cookie)', () => {
  let t: TestApp;
  let call: ReturnType<typeof api>;
  const browser = { 'x-tessera-session': 'cookie' };

  beforeAll(async () => {
    t = await startTestApp({ env: { RATE_LIMIT_AUTH_PER_MINUTE: '1000' } });
    call = api(t);
  });
  afterAll(() => t.close());

  const cookieOf = (headers: Headers): string =>
    /tessera_refresh=([^;]*)/.exec(headers.get('set-cookie') ?? '')?.[1] ?? '';

  it('signs in with the refresh token in a locked-down cookie, refreshes with it, and clears it at logout', async () => {
    const admin = await signedInAdmin(t, [Role.Support]);
    const login = await call('POST', '/v1/auth/login', {
      body: { email: admin.email, password: PASSWORD },
      headers: browser,
    });
    expect(login.status).toBe(200);
    expect(login.body.refreshToken).toBeUndefined();
    expect(login.body.accessToken).toEqual(expect.any(String));
    const setCookie = login.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/^tessera_refresh=tsr_/);
    for (const attribute of [
      'Path=/v1/auth',
      'HttpOnly',
      'Secure',
      'SameSite=Strict',
      'Max-Age=2592000',
    ]) {
      expect(setCookie.split('; ')).toContain(attribute);
    }
    const first = cookieOf(login.headers);

    // Without the header the cookie is not read: a cross-site form or fetch cannot send the header.
    const forged = await call('POST', '/v1/auth/refresh', {
      body: {},
      headers: { cookie: `tessera_refresh=${first}` },
    });
    expect(forged.status).toBe(401);
    expect(forged.body.code).toBe('INVALID_REFRESH_TOKEN');

    const refreshed = await call('POST', '/v1/auth/refresh', {
      body: {},
      headers: { ...browser, cookie: `tessera_refresh=${first}` },
    });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refreshToken).toBeUndefined();
    const second = cookieOf(refreshed.headers);
    expect(second).not.toBe(first);

    const logout = await call('POST', '/v1/auth/logout', {
      token: refreshed.body.accessToken,
      headers: browser,
    });
    expect(logout.status).toBe(204);
    expect(logout.headers.get('set-cookie')).toMatch(
      /^tessera_refresh=; Path=\/v1\/auth; Max-Age=0;/,
    );
    const afterLogout = await call('POST', '/v1/auth/refresh', {
      body: {},
      headers: { ...browser, cookie: `tessera_refresh=${second}` },
    });
    expect(afterLogout.status).toBe(401);
  });

  it('keeps the body token for API clients, and answers 401 when there is neither', async () => {
    const admin = await signedInAdmin(t, [Role.Support]);
    const refreshed = await call('POST', '/v1/auth/refresh', {
      body: { refreshToken: admin.refreshToken },
    });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refreshToken).toMatch(/^tsr_/);
    expect(refreshed.headers.get('set-cookie')).toBeNull();
    const none = await call('POST', '/v1/auth/refresh', { body: {}, headers: browser });
    expect(none.status).toBe(401);
    expect(none.headers.get('content-type')).toContain('application/problem+json');
  });
});
