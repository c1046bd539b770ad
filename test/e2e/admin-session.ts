import { randomUUID } from 'node:crypto';

import { AdminService } from 'src/modules/admins/admin.service';
import { systemActor } from 'src/platform/auth/actor';
import { Clock } from 'src/platform/clock';
import type { Role } from 'src/platform/auth/roles';
import type { TestApp } from 'test/e2e/test-app';
import { rfc6238 } from 'test/support/rfc6238';

export const PASSWORD = 'correct-plum-lantern-42';

export interface AdminSession {
  id: string;
  email: string;
  accessToken: string;
  refreshToken: string;
  sessionId: string;
  totpSecret?: string;
}

/** A client of the test app: JSON requests with an optional bearer token. */
export function api(t: TestApp) {
  return async (
    method: string,
    path: string,
    options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<{ status: number; body: any; headers: Headers }> => {
    const response = await fetch(`${t.baseUrl}${path}`, {
      method,
      headers: {
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
        ...options.headers,
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const text = await response.text();
    return {
      status: response.status,
      // JSON, or the text of what is not (an export's CSV).
      body:
        text === ''
          ? undefined
          : /[/+]json(;|$)/.test(response.headers.get('content-type') ?? '')
            ? JSON.parse(text)
            : text,
      headers: response.headers,
    };
  };
}

/**
 * Moves the app's clock: TOTP accepts each 30 s step once, so tests that use several codes step time
 * forward instead of sleeping.
 */
export function controlClock(t: TestApp): { advance(ms: number): void; now(): Date } {
  let offset = 0;
  const clock = t.app.get(Clock);
  jest.spyOn(clock, 'now').mockImplementation(() => new Date(Date.now() + offset));
  return { advance: (ms) => (offset += ms), now: () => clock.now() };
}

/** Creates an admin directly (as the bootstrap CLI does) and logs it in; with `mfa`, enrols TOTP too. */
export async function signedInAdmin(
  t: TestApp,
  roles: Role[],
  options: { mfa?: boolean; clock?: { advance(ms: number): void; now(): Date } } = {},
): Promise<AdminSession> {
  const email = `admin-${randomUUID().slice(0, 8)}@example.com`;
  const created = await t.app
    .get(AdminService)
    .create(systemActor(), { email, name: 'Test Admin', password: PASSWORD, roles });
  const request = api(t);
  const login = await request('POST', '/v1/auth/login', { body: { email, password: PASSWORD } });
  if (login.status !== 200) {
    throw new Error(`login failed: ${JSON.stringify(login.body)}`);
  }
  const session: AdminSession = {
    id: created.id,
    email,
    accessToken: login.body.accessToken,
    refreshToken: login.body.refreshToken,
    sessionId: login.body.sessionId,
  };
  if (options.mfa === true) {
    const clock = options.clock ?? controlClock(t);
    const enrollment = await request('POST', '/v1/auth/mfa/enroll', { token: session.accessToken });
    session.totpSecret = enrollment.body.secret;
    const confirmed = await request('POST', '/v1/auth/mfa/confirm', {
      token: session.accessToken,
      body: { code: rfc6238(enrollment.body.secret, clock.now()) },
    });
    if (confirmed.status !== 200) {
      throw new Error(`MFA confirmation failed: ${JSON.stringify(confirmed.body)}`);
    }
    clock.advance(30_000);
  }
  return session;
}
