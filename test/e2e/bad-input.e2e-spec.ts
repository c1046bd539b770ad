import { randomUUID } from 'node:crypto';

import { Controller, Get, Logger, Module, Query } from '@nestjs/common';
import { DataSource } from 'typeorm';

import { canonicalLicenseKey } from 'src/modules/licenses/license-key';
import { ValidationRepository } from 'src/modules/licenses/validation.repository';
import { LICENSE_KEY_PURPOSE } from 'src/modules/licenses/license.service';
import { ValidationService } from 'src/modules/licenses/validation.service';
import { Public } from 'src/platform/auth/public.decorator';
import { Role } from 'src/platform/auth/roles';
import { KeyedHash } from 'src/platform/crypto/keyed-hash';
import { api, controlClock, signedInAdmin } from 'test/e2e/admin-session';
import type { AdminSession } from 'test/e2e/admin-session';
import { startTestApp } from 'test/e2e/test-app';
import type { TestApp } from 'test/e2e/test-app';
import { LOOPBACK_WEBHOOKS_ENV } from 'test/support/webhook-receiver';

const CASTS = ['text', 'timestamptz', 'int4', 'uuid', 'jsonb'] as const;

/** Hands PostgreSQL a value it may refuse, as data that slipped past validation would (base64url, like a cursor). */
@Controller('bad-input-probe')
class CastProbeController {
  constructor(private readonly dataSource: DataSource) {}

  @Get('cast')
  @Public()
  async cast(
    @Query('type') type: (typeof CASTS)[number],
    @Query('value') value: string,
  ): Promise<{ ok: true }> {
    if (!CASTS.includes(type)) {
      throw new Error('unknown type');
    }
    await this.dataSource.query(`SELECT $1::${type}`, [
      Buffer.from(value, 'base64url').toString('utf8'),
    ]);
    return { ok: true };
  }
}

@Module({ controllers: [CastProbeController] })
class CastProbeModule {}

const PROBLEM_JSON = 'application/problem+json; charset=utf-8';
const VALIDATE_KEY = '/v1/licenses/actions/validate-key';

/**
 * Input PostgreSQL cannot store or represent is the client's fault: a 400 problem with a stable code,
 * never a 500. NUL is refused before any handler; the database's own data errors are a safety net.
 */
describe('bad input', () => {
  let t: TestApp;
  let owner: AdminSession;
  let call: ReturnType<typeof api>;
  let endpointId: string;
  let license: { id: string; key: string };

  const as = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
    call(method, path, { token: owner.accessToken, body, headers });
  /** Sends `body` as it is: the escapes and bytes under test must reach the server unchanged. */
  const send = (method: string, path: string, body: string | Buffer, token?: string) =>
    fetch(`${t.baseUrl}${path}`, {
      method,
      headers: {
        'content-type': 'application/json',
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      },
      body,
    });
  const hash = (key: string) =>
    t.app.get(KeyedHash).digest(LICENSE_KEY_PURPOSE, canonicalLicenseKey(key));

  function expectProblem(
    response: { status: number; headers: Headers; body: any },
    code: string | string[],
    status = 400,
  ): void {
    expect({ status: response.status, body: response.body }).toMatchObject({
      status,
      body: { status, code: Array.isArray(code) ? expect.stringMatching(code.join('|')) : code },
    });
    expect(response.headers.get('content-type')).toBe(PROBLEM_JSON);
  }
  const parsed = async (response: Response) => {
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      body: JSON.parse(text) as unknown,
    };
  };

  beforeAll(async () => {
    t = await startTestApp({
      imports: [CastProbeModule],
      env: {
        ...LOOPBACK_WEBHOOKS_ENV,
        WEBHOOK_DISPATCHER_ENABLED: 'false',
        RATE_LIMIT_ADMIN_PER_MINUTE: '100000',
        RATE_LIMIT_AUTH_PER_MINUTE: '1000',
      },
    });
    call = api(t);
    owner = await signedInAdmin(t, [Role.Owner], { mfa: true, clock: controlClock(t) });

    const endpoint = await as('POST', '/v1/webhook-endpoints', {
      url: 'http://127.0.0.1:9/hook',
      description: 'Billing sync',
    });
    expect(endpoint.status).toBe(201);
    endpointId = endpoint.body.id;

    const product = await as('POST', '/v1/products', {
      name: 'Acme',
      code: `acme-${randomUUID().slice(0, 6)}`,
    });
    const customer = await as('POST', '/v1/customers', {
      name: 'Globex',
      email: 'billing@globex.example',
    });
    const policy = await as('POST', '/v1/policies', { productId: product.body.id, name: 'Std' });
    const issued = await as('POST', '/v1/licenses', {
      policyId: policy.body.id,
      customerId: customer.body.id,
    });
    expect(issued.status).toBe(201);
    license = { id: issued.body.id, key: issued.body.key };
  });
  afterAll(async () => {
    await t.close();
  });

  describe('NUL in the request is refused with 400 INVALID_CHARACTERS', () => {
    it('on the public validation route, as an escape in any case or as a raw byte', async () => {
      const validate = jest.spyOn(t.app.get(ValidationService), 'validate');
      const escaped = JSON.stringify({ key: license.key, scope: { fingerprint: 'a\u0000' } });
      expect(escaped).toContain('\\u0000');
      expectProblem(await parsed(await send('POST', VALIDATE_KEY, escaped)), 'INVALID_CHARACTERS');
      expectProblem(
        await parsed(await send('POST', VALIDATE_KEY, escaped.replace('\\u0000', '\\U0000'))),
        'INVALID_CHARACTERS',
      );
      const raw = Buffer.from(`{"key":"${license.key}","scope":{"fingerprint":"a\u0000"}}`);
      expect(raw.includes(0)).toBe(true);
      expectProblem(await parsed(await send('POST', VALIDATE_KEY, raw)), 'INVALID_CHARACTERS');
      // Refused before the handler: no query was attempted.
      expect(validate).not.toHaveBeenCalled();
      validate.mockRestore();
    });

    it('but not a backslash followed by the text u0000', async () => {
      const response = await call('POST', VALIDATE_KEY, {
        body: { key: license.key, scope: { fingerprint: 'a\\u0000' } },
      });
      // A fingerprint this license has no machine for: an ordinary answer.
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ valid: false, code: 'NO_MACHINE' });
    });

    it('in a path parameter', async () => {
      expectProblem(await as('GET', '/v1/signing-keys/%00'), 'INVALID_CHARACTERS');
      expectProblem(
        await as('POST', '/v1/signing-keys/%00/actions/activate'),
        'INVALID_CHARACTERS',
      );
    });

    it('in a query parameter', async () => {
      expectProblem(
        await as('GET', `/v1/webhook-endpoints/${endpointId}/deliveries?eventType=%00`),
        'INVALID_CHARACTERS',
      );
    });

    it('in a webhook endpoint description, on create and update', async () => {
      expectProblem(
        await as('POST', '/v1/webhook-endpoints', {
          url: 'http://127.0.0.1:9/other',
          description: 'Billing\u0000sync',
        }),
        'INVALID_CHARACTERS',
      );
      expectProblem(
        await as(
          'PATCH',
          `/v1/webhook-endpoints/${endpointId}`,
          { description: '\u0000' },
          { 'if-match': 'W/"1"' },
        ),
        'INVALID_CHARACTERS',
      );
      const unchanged = await as('GET', `/v1/webhook-endpoints/${endpointId}`);
      expect(unchanged.body).toMatchObject({ description: 'Billing sync', version: 1 });
    });

    it('in the data of a test webhook', async () => {
      expectProblem(
        await as('POST', `/v1/webhook-endpoints/${endpointId}/actions/send-test`, {
          data: { note: 'x\u0000y' },
        }),
        'INVALID_CHARACTERS',
      );
    });

    it('before authentication, so an anonymous caller learns nothing more', async () => {
      expectProblem(await call('GET', '/v1/signing-keys/%00'), 'INVALID_CHARACTERS');
    });
  });

  describe('values the database refuses are 400s, not 500s', () => {
    it('answers a cursor whose date is out of range with a 400', async () => {
      const cursor = Buffer.from(
        JSON.stringify({ createdAt: '-010000-01-01T00:00:00.000Z', id: randomUUID() }),
      ).toString('base64url');
      expectProblem(
        await as('GET', `/v1/webhook-endpoints/${endpointId}/deliveries?cursor=${cursor}`),
        ['INVALID_VALUE', 'INVALID_CURSOR'],
      );
    });

    it.each([
      ['a NUL in text', 'INVALID_CHARACTERS', 'text', 'a\u0000'],
      ['a NUL escape in jsonb', 'INVALID_CHARACTERS', 'jsonb', '{"a":"\\u0000"}'],
      ['a date out of range', 'INVALID_VALUE', 'timestamptz', '294277-01-01T00:00:00Z'],
      ['a number out of range', 'INVALID_VALUE', 'int4', '99999999999'],
      ['a malformed uuid', 'INVALID_VALUE', 'uuid', 'not-a-uuid'],
    ])(
      'answers %s from the database with 400 %s, logged as a warning',
      async (_, code, type, value) => {
        const warn = jest.spyOn(Logger.prototype, 'warn');
        const error = jest.spyOn(Logger.prototype, 'error');
        try {
          const encoded = Buffer.from(value).toString('base64url');
          expectProblem(
            await call('GET', `/v1/bad-input-probe/cast?type=${type}&value=${encoded}`),
            code,
          );
          expect(warn).toHaveBeenCalledWith(
            expect.objectContaining({ msg: 'the database refused a value from the request' }),
          );
          expect(error).not.toHaveBeenCalled();
        } finally {
          warn.mockRestore();
          error.mockRestore();
        }
      },
    );

    it('still answers 500 for a database error that is not about the input', async () => {
      const encoded = Buffer.from('2026-01-01').toString('base64url');
      const response = await call('GET', `/v1/bad-input-probe/cast?type=text&value=${encoded}`);
      expect(response.status).toBe(200);
      // Only the probe's query fails: background work (the audit linker, the dispatcher) shares the
      // DataSource, and a one-shot rejection could land on its query instead.
      const dataSource = t.app.get(DataSource);
      const query = dataSource.query.bind(dataSource);
      const broken = jest
        .spyOn(dataSource, 'query')
        .mockImplementation((sql: string, ...rest: unknown[]) =>
          sql.startsWith('SELECT $1::text')
            ? Promise.reject(Object.assign(new Error('deadlock detected'), { code: '40P01' }))
            : query(sql, ...(rest as [])),
        );
      try {
        expectProblem(
          await call('GET', `/v1/bad-input-probe/cast?type=text&value=${encoded}`),
          'INTERNAL_ERROR',
          500,
        );
      } finally {
        broken.mockRestore();
      }
    });

    it('maps a character PostgreSQL refuses on the raw validation route too', async () => {
      // Stands for input that gets past the NUL check: the real query, with a value the database refuses.
      const repository = t.app.get(ValidationRepository);
      const findForValidation = repository.findForValidation.bind(repository);
      const spy = jest
        .spyOn(repository, 'findForValidation')
        .mockImplementationOnce((keyHash) => findForValidation(keyHash, 'a\u0000'));
      try {
        const response = await call('POST', VALIDATE_KEY, { body: { key: license.key } });
        expectProblem(response, 'INVALID_CHARACTERS');
      } finally {
        spy.mockRestore();
      }
    });
  });

  it('fails only the poisoned lookup of a shared validation batch', async () => {
    const repository = t.app.get(ValidationRepository);
    const pool = (repository as unknown as { pool: { query: (...args: unknown[]) => unknown } })
      .pool;
    const queries = jest.spyOn(pool, 'query');
    let settled: PromiseSettledResult<unknown>[];
    try {
      settled = await Promise.allSettled([
        repository.findForValidation(hash(license.key), null),
        repository.findForValidation(hash(license.key), 'a\u0000'),
        repository.findForValidation(hash('nope'), null),
      ]);
      // One shared query that failed, then one query per lookup.
      expect(queries).toHaveBeenCalledTimes(4);
    } finally {
      queries.mockRestore();
    }
    const [good, poisoned, unknown] = settled;
    expect(good).toMatchObject({ status: 'fulfilled', value: { id: license.id } });
    expect(poisoned).toMatchObject({ status: 'rejected', reason: { code: '22021' } });
    expect(unknown).toEqual({ status: 'fulfilled', value: null });
  });
});
