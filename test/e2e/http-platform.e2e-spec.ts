import { ProbeModule } from 'test/e2e/probe.module';
import { startTestApp } from 'test/e2e/test-app';
import type { TestApp } from 'test/e2e/test-app';

const PROBLEM_JSON = 'application/problem+json; charset=utf-8';

describe('HTTP platform', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ imports: [ProbeModule] });
  });
  afterAll(async () => {
    await t.close();
  });

  const post = (path: string, body: string, contentType = 'application/json'): Promise<Response> =>
    fetch(`${t.baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': contentType },
      body,
    });

  async function expectProblem(
    response: Response,
    status: number,
    code: string,
  ): Promise<Record<string, unknown>> {
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toBe(PROBLEM_JSON);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      status,
      code,
      type: `urn:tessera:problem:${code.toLowerCase().replace(/_/g, '-')}`,
    });
    expect(typeof body.title).toBe('string');
    expect(typeof body.detail).toBe('string');
    expect(body.traceId).toBe(response.headers.get('x-request-id'));
    return body;
  }

  describe('versioning', () => {
    it('serves API routes under /v1 only', async () => {
      const ok = await post('/v1/probe/echo', JSON.stringify({ name: 'a', count: 1 }));
      expect(ok.status).toBe(201);
      await expect(ok.json()).resolves.toEqual({ name: 'a', count: 1 });
      await expectProblem(
        await post('/probe/echo', JSON.stringify({ name: 'a', count: 1 })),
        404,
        'NOT_FOUND',
      );
      await expectProblem(
        await post('/v2/probe/echo', JSON.stringify({ name: 'a', count: 1 })),
        404,
        'NOT_FOUND',
      );
    });

    it('keeps health checks outside the versioned API', async () => {
      expect((await fetch(`${t.baseUrl}/health/live`)).status).toBe(200);
      expect((await fetch(`${t.baseUrl}/v1/health/live`)).status).toBe(404);
    });
  });

  describe('errors are RFC 9457 problems with a stable code', () => {
    it('answers an unknown route with 404 NOT_FOUND', async () => {
      await expectProblem(await fetch(`${t.baseUrl}/v1/no-such-thing`), 404, 'NOT_FOUND');
    });

    it.each(['/v1/licenses/%E0%A4%A', '/console/assets/%E0%A4%A.js'])(
      'answers an undecodable path (%s) with 400 BAD_URL',
      async (path) => {
        // Fastify refuses it before any hook runs; the security headers are still there.
        const response = await fetch(`${t.baseUrl}${path}`);
        expect(response.headers.get('x-content-type-options')).toBe('nosniff');
        await expectProblem(response, 400, 'BAD_URL');
      },
    );

    it('answers a path parameter over the router limit with 414 URI_TOO_LONG', async () => {
      await expectProblem(
        await fetch(`${t.baseUrl}/v1/licenses/${'a'.repeat(200)}`),
        414,
        'URI_TOO_LONG',
      );
    });

    it('answers malformed JSON with 400 MALFORMED_JSON', async () => {
      await expectProblem(await post('/v1/probe/echo', '{"name": '), 400, 'MALFORMED_JSON');
    });

    it('answers an empty JSON body with 400 MALFORMED_JSON', async () => {
      await expectProblem(await post('/v1/probe/echo', ''), 400, 'MALFORMED_JSON');
    });

    it('answers a body over the limit with 413 PAYLOAD_TOO_LARGE', async () => {
      const huge = JSON.stringify({ name: 'x'.repeat(t.config.http.bodyLimitBytes + 1), count: 1 });
      await expectProblem(await post('/v1/probe/echo', huge), 413, 'PAYLOAD_TOO_LARGE');
    });

    it.each(['text/plain', 'application/x-www-form-urlencoded', 'application/xml'])(
      'answers a %s body with 415 UNSUPPORTED_MEDIA_TYPE',
      async (contentType) => {
        await expectProblem(
          await post('/v1/probe/echo', 'name=a', contentType),
          415,
          'UNSUPPORTED_MEDIA_TYPE',
        );
      },
    );

    it('answers an invalid body with 400 VALIDATION_FAILED and says what is wrong', async () => {
      const body = await expectProblem(
        await post('/v1/probe/echo', JSON.stringify({ name: 5, count: 99 })),
        400,
        'VALIDATION_FAILED',
      );
      expect(body.errors).toEqual(
        expect.arrayContaining([expect.stringContaining('name'), expect.stringContaining('count')]),
      );
    });

    it('refuses unknown properties', async () => {
      const body = await expectProblem(
        await post('/v1/probe/echo', JSON.stringify({ name: 'a', count: 1, admin: true })),
        400,
        'VALIDATION_FAILED',
      );
      expect(body.errors).toEqual([expect.stringContaining('admin')]);
    });

    it('maps a domain error to its own status and code', async () => {
      const body = await expectProblem(
        await fetch(`${t.baseUrl}/v1/probe/domain-error`),
        409,
        'PROBE_CONFLICT',
      );
      expect(body).toMatchObject({
        detail: 'The probe is in a state that forbids this.',
        hint: 'none',
      });
    });

    it('answers an internal error with a generic 500 that leaks nothing', async () => {
      const response = await fetch(`${t.baseUrl}/v1/probe/crash`);
      const body = await expectProblem(response, 500, 'INTERNAL_ERROR');
      expect(JSON.stringify(body)).not.toMatch(/secret|postgres:|stack|at /);
    });

    it('refuses a route that declares no access rule (deny by default)', async () => {
      await expectProblem(await fetch(`${t.baseUrl}/v1/probe/undeclared`), 403, 'ACCESS_DENIED');
    });
  });

  describe('request ids', () => {
    it('echoes an acceptable incoming X-Request-Id', async () => {
      const response = await fetch(`${t.baseUrl}/health/live`, {
        headers: { 'x-request-id': 'abc-123' },
      });
      expect(response.headers.get('x-request-id')).toBe('abc-123');
    });

    it('replaces an unacceptable one with a fresh UUID', async () => {
      const response = await fetch(`${t.baseUrl}/health/live`, {
        headers: { 'x-request-id': 'bad id\twith spaces' },
      });
      expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    });
  });

  describe('security headers', () => {
    it.each(['/health/live', '/v1/no-such-thing', '/openapi.json'])(
      'are set on %s',
      async (path) => {
        const response = await fetch(`${t.baseUrl}${path}`);
        expect(Object.fromEntries(response.headers)).toMatchObject({
          'x-content-type-options': 'nosniff',
          'x-frame-options': 'DENY',
          'referrer-policy': 'no-referrer',
          'content-security-policy': expect.stringContaining("default-src 'none'"),
        });
      },
    );

    it('leave HSTS out over plain HTTP, and an untrusted X-Forwarded-Proto changes nothing', async () => {
      expect(
        (await fetch(`${t.baseUrl}/health/live`)).headers.has('strict-transport-security'),
      ).toBe(false);
      const forged = await fetch(`${t.baseUrl}/health/live`, {
        headers: { 'x-forwarded-proto': 'https' },
      });
      expect(forged.headers.has('strict-transport-security')).toBe(false);
    });

    it('keep a strict CSP on API responses and let the docs page load its own assets only', async () => {
      const api = await fetch(`${t.baseUrl}/health/live`);
      expect(api.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(api.headers.get('content-security-policy')).not.toContain('script-src');
      const docs = await fetch(`${t.baseUrl}/docs`);
      expect(docs.headers.get('content-security-policy')).toContain("script-src 'self'");
    });

    it('sends no CORS headers when no origin is allowed', async () => {
      const response = await fetch(`${t.baseUrl}/health/live`, {
        headers: { origin: 'https://evil.example' },
      });
      expect(response.headers.get('access-control-allow-origin')).toBeNull();
    });
  });

  describe('OpenAPI', () => {
    it('serves the generated document at /openapi.json', async () => {
      const response = await fetch(`${t.baseUrl}/openapi.json`);
      expect(response.status).toBe(200);
      const document = (await response.json()) as {
        openapi: string;
        paths: Record<string, unknown>;
      };
      expect(document.openapi).toMatch(/^3\./);
      expect(Object.keys(document.paths)).toEqual(
        expect.arrayContaining(['/health/ready', '/v1/probe/echo']),
      );
    });

    it('serves a browsable reference at /docs', async () => {
      const response = await fetch(`${t.baseUrl}/docs`);
      expect(response.status).toBe(200);
      expect(await response.text()).toContain('<title>Tessera API</title>');
    });
  });
});

describe('behind a trusted proxy', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { TRUST_PROXY: '127.0.0.1' } });
  });
  afterAll(async () => {
    await t.close();
  });

  it('sends HSTS when the proxy says the client came over HTTPS, and only then', async () => {
    const https = await fetch(`${t.baseUrl}/health/live`, {
      headers: { 'x-forwarded-proto': 'https' },
    });
    expect(https.headers.get('strict-transport-security')).toBe(
      'max-age=31536000; includeSubDomains',
    );
    const http = await fetch(`${t.baseUrl}/health/live`, {
      headers: { 'x-forwarded-proto': 'http' },
    });
    expect(http.headers.has('strict-transport-security')).toBe(false);
  });
});

describe('CORS allow-list', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { CORS_ORIGINS: 'https://app.example.com' } });
  });
  afterAll(async () => {
    await t.close();
  });

  it('allows a listed origin', async () => {
    const response = await fetch(`${t.baseUrl}/health/live`, {
      headers: { origin: 'https://app.example.com' },
    });
    expect(response.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
  });

  it('ignores an unlisted origin', async () => {
    const response = await fetch(`${t.baseUrl}/health/live`, {
      headers: { origin: 'https://evil.example' },
    });
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });
});
