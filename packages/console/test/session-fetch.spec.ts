/**
 * @jest-environment node
 */
import { TesseraApiError } from '@tessera/sdk';

import { api, onStepUpRequired, unwrap } from '../src/api';
import { setTokens, tokens } from '../src/session';

// The console's fetch against a fake server (a pure unit test: the real API is the browser suite's).
type Handler = (request: Request) => Response | Promise<Response>;

const seen: Request[] = [];
let handle: Handler;

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: {
      'content-type': status >= 400 ? 'application/problem+json' : 'application/json',
    },
  });
}

function problem(status: number, code: string): Response {
  return json(status, { status, code, title: code, detail: `${code} happened` });
}

const ME = { id: 'a1', email: 'owner@example.com', roles: ['owner'], permissions: [] };

beforeEach(() => {
  seen.length = 0;
  setTokens({ accessToken: 'old', sessionId: 's1', expiresAt: Date.now() + 60_000 });
  jest
    .spyOn(globalThis, 'fetch')
    .mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = input instanceof Request ? input : new Request(input, init);
      seen.push(request.clone());
      return handle(request);
    });
});

afterEach(() => jest.restoreAllMocks());

const path = (r: Request): string => new URL(r.url).pathname;
const bearer = (r: Request): string | null => r.headers.get('authorization');

describe('on a 401', () => {
  it('refreshes once for requests that fail together, then retries each with the new token', async () => {
    handle = (request) => {
      if (path(request) === '/v1/auth/refresh') {
        return json(200, { accessToken: 'new', sessionId: 's1', expiresIn: 900 });
      }
      return bearer(request) === 'Bearer new' ? json(200, ME) : problem(401, 'UNAUTHENTICATED');
    };
    const [a, b] = await Promise.all([
      unwrap(api.GET('/v1/auth/me')),
      unwrap(api.GET('/v1/auth/me')),
    ]);
    expect([a.email, b.email]).toEqual([ME.email, ME.email]);
    const refreshes = seen.filter((r) => path(r) === '/v1/auth/refresh');
    // Refresh tokens are single use: a second refresh would look like reuse and end the session.
    expect(refreshes).toHaveLength(1);
    expect(refreshes[0]?.headers.get('x-tessera-session')).toBe('cookie');
    expect(tokens()?.accessToken).toBe('new');
  });

  it('forgets the session when the refresh is refused', async () => {
    handle = () => problem(401, 'UNAUTHENTICATED');
    const error = await unwrap(api.GET('/v1/auth/me')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TesseraApiError);
    expect((error as TesseraApiError).status).toBe(401);
    expect(tokens()).toBeNull();
  });
});

describe('on MFA_STEP_UP_REQUIRED', () => {
  const rotate = (): Promise<unknown> =>
    unwrap(api.POST('/v1/signing-keys/actions/rotate', { body: { purpose: 'license' } }));

  it('asks for a code until one is accepted, then sends the same request again', async () => {
    let steppedUp = false;
    handle = async (request) => {
      if (path(request) === '/v1/auth/mfa/step-up') {
        const { code } = (await request.json()) as { code: string };
        steppedUp = code === '123456';
        return steppedUp ? json(200, {}) : problem(401, 'INVALID_MFA_CODE');
      }
      return steppedUp ? json(201, { kid: 'k2' }) : problem(403, 'MFA_STEP_UP_REQUIRED');
    };
    const codes = ['000000', '123456'];
    const prompt = jest.fn(() => Promise.resolve(codes.shift() ?? null));
    onStepUpRequired(prompt);

    await expect(rotate()).resolves.toEqual({ kid: 'k2' });
    expect(prompt).toHaveBeenCalledTimes(2);
    const rotations = seen.filter((r) => path(r) === '/v1/signing-keys/actions/rotate');
    expect(rotations).toHaveLength(2);
    // The retry is the same mutation to the server: the same Idempotency-Key and body.
    const [first, retry] = rotations as [Request, Request];
    expect(first.headers.get('idempotency-key')).toBeTruthy();
    expect(retry.headers.get('idempotency-key')).toBe(first.headers.get('idempotency-key'));
    expect(await retry.json()).toEqual({ purpose: 'license' });
    expect(bearer(retry)).toBe('Bearer old');
  });

  it('gives the 403 back when the admin cancels', async () => {
    handle = () => problem(403, 'MFA_STEP_UP_REQUIRED');
    onStepUpRequired(() => Promise.resolve(null));
    const error = await rotate().catch((e: unknown) => e);
    expect((error as TesseraApiError).code).toBe('MFA_STEP_UP_REQUIRED');
    expect(seen.filter((r) => path(r) === '/v1/auth/mfa/step-up')).toHaveLength(0);
  });
});
