import { randomUUID } from 'node:crypto';

import { DataSource } from 'typeorm';

import { canonicalLicenseKey } from 'src/modules/licenses/license-key';
import { ValidationRepository } from 'src/modules/licenses/validation.repository';
import { LICENSE_KEY_PURPOSE } from 'src/modules/licenses/license.service';
import { MachineService } from 'src/modules/licenses/machine.service';
import { KeyedHash } from 'src/platform/crypto/keyed-hash';
import { VALIDATE_KEY_SCHEMA } from 'src/modules/licenses/validation.schema';
import { ValidationService } from 'src/modules/licenses/validation.service';
import { Role } from 'src/platform/auth/roles';
import { api, controlClock, signedInAdmin } from 'test/e2e/admin-session';
import type { AdminSession } from 'test/e2e/admin-session';
import { startTestApp } from 'test/e2e/test-app';
import type { TestApp } from 'test/e2e/test-app';

describe('licensing', () => {
  let t: TestApp;
  let owner: AdminSession;
  let clock: ReturnType<typeof controlClock>;
  let call: ReturnType<typeof api>;
  let productId: string;
  let productCode: string;
  let customerId: string;

  const as = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
    call(method, path, { token: owner.accessToken, body, headers });
  const validate = (key: string, scope?: Record<string, unknown>, nonce?: string) =>
    call('POST', '/v1/licenses/actions/validate-key', { body: { key, scope, nonce } });

  async function policy(overrides: Record<string, unknown> = {}): Promise<string> {
    const response = await as('POST', '/v1/policies', {
      productId,
      name: `P ${randomUUID().slice(0, 4)}`,
      ...overrides,
    });
    expect(response.status).toBe(201);
    return response.body.id;
  }

  async function license(
    policyId: string,
    extra: Record<string, unknown> = {},
  ): Promise<{ id: string; key: string }> {
    const response = await as('POST', '/v1/licenses', { policyId, customerId, ...extra });
    expect(response.status).toBe(201);
    return { id: response.body.id, key: response.body.key };
  }

  beforeAll(async () => {
    t = await startTestApp({
      env: { RATE_LIMIT_ADMIN_PER_MINUTE: '100000', RATE_LIMIT_AUTH_PER_MINUTE: '1000' },
    });
    call = api(t);
    clock = controlClock(t);
    owner = await signedInAdmin(t, [Role.Owner], { mfa: true, clock });
    productCode = `acme-${randomUUID().slice(0, 6)}`;
    productId = (await as('POST', '/v1/products', { name: 'Acme Pro', code: productCode })).body.id;
    customerId = (
      await as('POST', '/v1/customers', { name: 'Globex', email: 'billing@globex.example' })
    ).body.id;
    for (const code of ['feature.export-pdf', 'feature.sso']) {
      expect((await as('POST', '/v1/entitlements', { code, name: code })).status).toBe(201);
    }
  });
  afterAll(async () => {
    await t.close();
  });

  it('issues a license whose key is shown once and validates it', async () => {
    const policyId = await policy({
      durationSeconds: 30 * 86_400,
      entitlements: ['feature.export-pdf'],
    });
    const issued = await as('POST', '/v1/licenses', {
      policyId,
      customerId,
      entitlements: ['feature.sso'],
    });
    expect(issued.body.key).toMatch(/^([0-9A-HJKMNP-TV-Z]{5}-){5}[0-9A-HJKMNP-TV-Z]{5}$/);
    expect(issued.body).toMatchObject({
      status: 'ACTIVE',
      entitlements: ['feature.export-pdf', 'feature.sso'],
    });
    const read = await as('GET', `/v1/licenses/${issued.body.id}`);
    expect(read.body).not.toHaveProperty('key');
    expect(read.body.keyPrefix).toBe(issued.body.key.slice(0, 5));

    const result = await validate(
      issued.body.key,
      { product: productCode, entitlements: ['feature.sso'] },
      'n-1',
    );
    expect(result.status).toBe(200);
    expect(result.body).toMatchObject({
      valid: true,
      code: 'VALID',
      nonce: 'n-1',
      license: {
        id: issued.body.id,
        status: 'ACTIVE',
        entitlements: ['feature.export-pdf', 'feature.sso'],
      },
    });
    // Typed loosely by a person: lower case, spaces, O for 0.
    const sloppy = issued.body.key.toLowerCase().replace(/-/g, ' ').replace(/0/g, 'o');
    expect((await validate(sloppy)).body.code).toBe('VALID');
  });

  it('answers unknown and wrong keys identically, with NOT_FOUND', async () => {
    const { key } = await license(await policy());
    const wrong = key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');
    const a = await validate(wrong);
    const b = await validate('AAAAA-BBBBB-CCCCC-DDDDD-EEEEE-FFFFF');
    // Alike but for the time and the digest of the key each one sent.
    const strip = (body: Record<string, unknown>) => ({
      ...body,
      validatedAt: undefined,
      keySha256: undefined,
    });
    expect(a.status).toBe(200);
    expect(strip(a.body)).toEqual(strip(b.body));
    expect(a.body).toMatchObject({ valid: false, code: 'NOT_FOUND', license: null });
  });

  it('follows the lifecycle: suspend, reinstate, revoke', async () => {
    const { id, key } = await license(await policy());
    expect((await as('POST', `/v1/licenses/${id}/actions/suspend`)).body.status).toBe('SUSPENDED');
    expect((await validate(key)).body.code).toBe('SUSPENDED');
    expect((await as('POST', `/v1/licenses/${id}/actions/suspend`)).body.code).toBe(
      'LICENSE_NOT_ACTIVE',
    );
    expect((await as('POST', `/v1/licenses/${id}/actions/reinstate`)).body.status).toBe('ACTIVE');
    expect((await validate(key)).body.code).toBe('VALID');
    expect((await as('POST', `/v1/licenses/${id}/actions/revoke`)).body.status).toBe('REVOKED');
    expect((await validate(key)).body.code).toBe('REVOKED');
    expect((await as('POST', `/v1/licenses/${id}/actions/reinstate`)).status).toBe(409);
  });

  it('expires with time, shows EXPIRING in the last three days, and renews', async () => {
    const { id, key } = await license(await policy({ durationSeconds: 5 * 86_400 }));
    clock.advance(3 * 86_400_000);
    expect((await as('GET', `/v1/licenses/${id}`)).body.status).toBe('EXPIRING');
    clock.advance(3 * 86_400_000);
    expect((await validate(key)).body).toMatchObject({
      valid: false,
      code: 'EXPIRED',
      license: { status: 'EXPIRED' },
    });
    const renewed = await as('POST', `/v1/licenses/${id}/actions/renew`);
    expect(renewed.body.status).toBe('ACTIVE');
    expect((await validate(key)).body.code).toBe('VALID');

    const maintained = await license(
      await policy({ durationSeconds: 86_400, expirationStrategy: 'MAINTAIN_ACCESS' }),
    );
    clock.advance(2 * 86_400_000);
    expect((await validate(maintained.key)).body).toMatchObject({
      valid: true,
      license: { status: 'EXPIRED' },
    });
  });

  it('requires check-ins when the policy says so', async () => {
    const { id, key } = await license(
      await policy({ requireCheckIn: true, checkInIntervalSeconds: 3600 }),
    );
    expect((await validate(key)).body.code).toBe('VALID');
    clock.advance(2 * 3_600_000);
    expect((await validate(key)).body.code).toBe('OVERDUE');
    await as('POST', `/v1/licenses/${id}/actions/check-in`);
    expect((await validate(key)).body.code).toBe('VALID');
  });

  it('checks product, machine, fingerprint and entitlement scopes in order', async () => {
    const { id, key } = await license(await policy({ floating: true, maxMachines: 3 }));
    expect((await validate(key, { product: 'someone-else' })).body.code).toBe(
      'PRODUCT_SCOPE_MISMATCH',
    );
    expect((await validate(key, { fingerprint: 'fp-1' })).body.code).toBe('NO_MACHINES');
    expect(
      (await as('POST', '/v1/machines', { licenseId: id, fingerprint: 'fp-1', platform: 'linux' }))
        .status,
    ).toBe(201);
    expect((await validate(key, { fingerprint: 'fp-1', product: productId })).body.code).toBe(
      'VALID',
    );
    expect((await validate(key, { fingerprint: 'fp-2' })).body.code).toBe(
      'FINGERPRINT_SCOPE_MISMATCH',
    );
    expect((await validate(key, { entitlements: ['feature.sso'] })).body.code).toBe(
      'ENTITLEMENTS_MISSING',
    );
    await as('POST', `/v1/licenses/${id}/actions/attach-entitlements`, {
      entitlements: ['feature.sso'],
    });
    expect((await validate(key, { entitlements: ['feature.sso'] })).body.code).toBe('VALID');
    const nodeLocked = await license(await policy());
    expect((await validate(nodeLocked.key, { fingerprint: 'x' })).body.code).toBe('NO_MACHINE');
  });

  it.each([
    ['NO_OVERAGE', 5],
    ['ALLOW_1_25X', 6],
    ['ALLOW_1_5X', 7],
    ['ALLOW_2X', 10],
  ])(
    'holds seat limits under 50 parallel activations (%s: exactly %i)',
    async (overageStrategy, expected) => {
      for (let round = 0; round < 3; round++) {
        const { id, key } = await license(
          await policy({ floating: true, maxMachines: 5, overageStrategy }),
        );
        const responses = await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            as('POST', '/v1/machines', { licenseId: id, fingerprint: `fp-${i}` }),
          ),
        );
        expect(responses.filter((r) => r.status === 201)).toHaveLength(expected);
        const refused = responses.filter((r) => r.status !== 201);
        expect(refused).toHaveLength(50 - expected);
        expect(refused.every((r) => r.status === 422 && r.body.code === 'TOO_MANY_MACHINES')).toBe(
          true,
        );
        expect((await validate(key)).body.code).toBe('VALID');
      }
    },
  );

  it('refuses a second activation of one fingerprint, and frees the seat on deactivation', async () => {
    const { id } = await license(await policy({ floating: true, maxMachines: 1 }));
    const first = await as('POST', '/v1/machines', { licenseId: id, fingerprint: 'same' });
    expect(
      (await as('POST', '/v1/machines', { licenseId: id, fingerprint: 'same' })).body.code,
    ).toBe('FINGERPRINT_TAKEN');
    expect(
      (await as('POST', '/v1/machines', { licenseId: id, fingerprint: 'other' })).body.code,
    ).toBe('TOO_MANY_MACHINES');
    expect((await as('DELETE', `/v1/machines/${first.body.id}`)).status).toBe(204);
    expect((await as('POST', '/v1/machines', { licenseId: id, fingerprint: 'other' })).status).toBe(
      201,
    );
    const listed = await as('GET', `/v1/machines?licenseId=${id}`);
    expect(listed.body.data.map((m: { fingerprint: string }) => m.fingerprint)).toEqual(['other']);
  });

  it('tracks heartbeats and culls dead machines of floating licenses', async () => {
    const { id, key } = await license(
      await policy({
        floating: true,
        maxMachines: 2,
        requireHeartbeat: true,
        heartbeatDurationSeconds: 600,
      }),
    );
    const machine = (await as('POST', '/v1/machines', { licenseId: id, fingerprint: 'hb' })).body;
    expect((await validate(key, { fingerprint: 'hb' })).body.code).toBe('HEARTBEAT_NOT_STARTED');
    await as('POST', `/v1/machines/${machine.id}/actions/heartbeat`);
    expect((await validate(key, { fingerprint: 'hb' })).body.code).toBe('VALID');
    clock.advance(601_000);
    expect((await validate(key, { fingerprint: 'hb' })).body.code).toBe('HEARTBEAT_DEAD');
    expect(await t.app.get(MachineService).cullDeadMachines()).toBeGreaterThanOrEqual(1);
    expect((await as('GET', `/v1/machines/${machine.id}`)).status).toBe(404);
    expect((await validate(key, { fingerprint: 'hb' })).body.code).toBe('NO_MACHINES');
  });

  it('refuses heartbeats on a suspended or revoked license with a problem and the validation code, both ways', async () => {
    const { id, key } = await license(
      await policy({ floating: true, requireHeartbeat: true, heartbeatDurationSeconds: 600 }),
    );
    const machine = (await as('POST', '/v1/machines', { licenseId: id, fingerprint: 'pinging' }))
      .body;
    const beat = await as('POST', `/v1/machines/${machine.id}/actions/heartbeat`);
    expect(beat.status).toBe(200);
    const refusedBoth = async (code: string) => {
      for (const response of [
        await as('POST', `/v1/machines/${machine.id}/actions/heartbeat`),
        await call('POST', '/v1/licenses/actions/heartbeat', {
          body: { key, fingerprint: 'pinging' },
        }),
      ]) {
        expect(response.status).toBe(422);
        expect(response.headers.get('content-type')).toContain('application/problem+json');
        expect(response.body).toMatchObject({ status: 422, code });
      }
    };

    expect((await as('POST', `/v1/licenses/${id}/actions/suspend`)).status).toBe(200);
    await refusedBoth('LICENSE_SUSPENDED');
    expect((await validate(key, { fingerprint: 'pinging' })).body.code).toBe('SUSPENDED');
    expect((await as('POST', `/v1/licenses/${id}/actions/revoke`)).status).toBe(200);
    await refusedBoth('LICENSE_REVOKED');
    expect((await as('GET', `/v1/machines/${machine.id}`)).body.lastHeartbeatAt).toBe(
      beat.body.lastHeartbeatAt,
    );
  });

  it('never lets usage pass maxUses, however many increments race', async () => {
    const { id } = await license(await policy({ maxUses: 10 }));
    const responses = await Promise.all(
      Array.from({ length: 30 }, () => as('POST', `/v1/licenses/${id}/usage/increment`, {})),
    );
    expect(responses.filter((r) => r.status === 200)).toHaveLength(10);
    expect(responses.filter((r) => r.body.code === 'USAGE_LIMIT_EXCEEDED')).toHaveLength(20);
    expect((await as('GET', `/v1/licenses/${id}`)).body.uses).toBe(10);
    expect((await as('POST', `/v1/licenses/${id}/usage/decrement`, { amount: 3 })).body.uses).toBe(
      7,
    );
    expect((await as('POST', `/v1/licenses/${id}/usage/reset`)).body.uses).toBe(0);
  });

  it('replays a keyed request instead of acting twice, and refuses the key for another request', async () => {
    const policyId = await policy();
    const key = `idem-${randomUUID()}`;
    const first = await as(
      'POST',
      '/v1/licenses',
      { policyId, customerId },
      { 'idempotency-key': key },
    );
    const retry = await as(
      'POST',
      '/v1/licenses',
      { policyId, customerId },
      { 'idempotency-key': key },
    );
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.body).toEqual(first.body);
    const other = await as(
      'POST',
      '/v1/licenses',
      { policyId, customerId, name: 'x' },
      { 'idempotency-key': key },
    );
    expect(other.status).toBe(422);
    expect(other.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
    const listed = await as('GET', `/v1/licenses?policyId=${policyId}`);
    expect(listed.body.data).toHaveLength(1);
  });

  it('runs concurrent requests with one Idempotency-Key once', async () => {
    const { id } = await license(await policy({ maxUses: 100 }));
    const key = `idem-${randomUUID()}`;
    const responses = await Promise.all(
      Array.from({ length: 10 }, () =>
        as('POST', `/v1/licenses/${id}/usage/increment`, {}, { 'idempotency-key': key }),
      ),
    );
    expect(
      responses.every(
        (r) =>
          r.status === 200 || (r.status === 409 && r.body.code === 'IDEMPOTENCY_KEY_IN_PROGRESS'),
      ),
    ).toBe(true);
    expect((await as('GET', `/v1/licenses/${id}`)).body.uses).toBe(1);
  });

  it('updates with optimistic locking, and records validation times without a write per validation', async () => {
    const policyId = await policy();
    const policyRead = await as('GET', `/v1/policies/${policyId}`);
    const renamed = await as(
      'PATCH',
      `/v1/policies/${policyId}`,
      { name: 'Renamed' },
      { 'if-match': policyRead.headers.get('etag')! },
    );
    expect(renamed.body.name).toBe('Renamed');
    expect(renamed.headers.get('etag')).toBe(`W/"${renamed.body.version}"`);
    expect((await as('GET', '/v1/licenses')).headers.get('etag')).toBeNull();
    const { id, key } = await license(policyId);
    const read = await as('GET', `/v1/licenses/${id}`);
    expect(read.headers.get('etag')).toBe(`W/"${read.body.version}"`);
    expect((await as('PATCH', `/v1/licenses/${id}`, { name: 'x' })).status).toBe(428);
    const patched = await as(
      'PATCH',
      `/v1/licenses/${id}`,
      { name: 'Renamed' },
      { 'if-match': read.headers.get('etag')! },
    );
    expect(patched.body.name).toBe('Renamed');
    expect(
      (
        await as(
          'PATCH',
          `/v1/licenses/${id}`,
          { name: 'y' },
          { 'if-match': read.headers.get('etag')! },
        )
      ).status,
    ).toBe(412);

    await validate(key);
    expect((await as('GET', `/v1/licenses/${id}`)).body.lastValidatedAt).toBeNull();
    await t.app.get(ValidationService).flush();
    expect((await as('GET', `/v1/licenses/${id}`)).body.lastValidatedAt).not.toBeNull();
  });

  it('writes an ordered outbox stream and an audit event for each change', async () => {
    const { id } = await license(await policy());
    await as('POST', `/v1/licenses/${id}/actions/suspend`);
    await as('POST', `/v1/licenses/${id}/actions/reinstate`);
    const events = await t.app
      .get(DataSource)
      .query(`SELECT type, sequence FROM outbox_events WHERE aggregate_id = $1 ORDER BY sequence`, [
        id,
      ]);
    expect(events).toEqual([
      { type: 'license.created', sequence: '1' },
      { type: 'license.suspended', sequence: '2' },
      { type: 'license.reinstated', sequence: '3' },
    ]);
    const audits = await call('GET', `/v1/audit/events?targetId=${id}`, {
      token: owner.accessToken,
    });
    expect(audits.body.data.map((e: { action: string }) => e.action)).toEqual([
      'license.reinstated',
      'license.suspended',
      'license.created',
    ]);
  });

  it('answers a malformed validation request with a 400 problem, and documents the route', async () => {
    const bad = await call('POST', '/v1/licenses/actions/validate-key', {
      body: { key: 'x', extra: true },
    });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toContain('application/problem+json');
    expect(bad.body).toMatchObject({
      code: 'VALIDATION_FAILED',
      errors: [expect.stringContaining('additional')],
    });
    expect(bad.body.traceId).toBe(bad.headers.get('x-request-id'));
    const missing = await call('POST', '/v1/licenses/actions/validate-key', { body: {} });
    expect(missing.body.code).toBe('VALIDATION_FAILED');
    const ok = await validate('AAAAA-BBBBB-CCCCC-DDDDD-EEEEE-FFFFF');
    expect(ok.headers.get('x-content-type-options')).toBe('nosniff');
    expect(ok.headers.get('ratelimit-limit')).toBe('6000');

    const document = (await call('GET', '/openapi.json')).body;
    expect(document.paths['/v1/licenses/actions/validate-key'].post['x-permission']).toBe('public');
    expect(document.components.schemas.ValidationResultDto.properties.code.enum).toEqual(
      expect.arrayContaining(['NOT_FOUND', 'TOO_MANY_MACHINES', 'VALID']),
    );
    // The request components are the schema the route validates with: nothing to drift apart.
    const { ValidateKeyDto, ValidationScopeDto } = document.components.schemas;
    expect(ValidationScopeDto).toEqual(VALIDATE_KEY_SCHEMA.body.properties.scope);
    expect({
      ...ValidateKeyDto,
      properties: { ...ValidateKeyDto.properties, scope: ValidationScopeDto },
    }).toEqual(VALIDATE_KEY_SCHEMA.body);
    expect(ValidationScopeDto.properties.entitlements.items.maxLength).toBe(100);
    const overlong = await validate('AAAAA-BBBBB-CCCCC-DDDDD-EEEEE-FFFFF', {
      entitlements: ['x'.repeat(101)],
    });
    expect(overlong.body.code).toBe('VALIDATION_FAILED');
  });

  it('lets an app activate its machine, send heartbeats and deactivate it with nothing but its license key', async () => {
    const { id, key } = await license(
      await policy({ floating: true, maxMachines: 1, requireHeartbeat: true }),
    );
    const anonymous = (path: string, body: unknown) => call('POST', path, { body });
    const wrong = await anonymous('/v1/licenses/actions/activate-machine', {
      key: 'AAAAA-AAAAA',
      fingerprint: 'app-1',
    });
    expect(wrong.status).toBe(401);
    expect(wrong.body.code).toBe('INVALID_LICENSE_KEY');
    const activated = await anonymous('/v1/licenses/actions/activate-machine', {
      key,
      fingerprint: 'app-1',
      platform: 'macos',
    });
    expect(activated.status).toBe(201);
    expect(activated.body).toMatchObject({
      licenseId: id,
      fingerprint: 'app-1',
      platform: 'macos',
    });
    const full = await anonymous('/v1/licenses/actions/activate-machine', {
      key,
      fingerprint: 'app-2',
    });
    expect(full.body.code).toBe('TOO_MANY_MACHINES');
    expect((await validate(key, { fingerprint: 'app-1' })).body.code).toBe('HEARTBEAT_NOT_STARTED');
    const beat = await anonymous('/v1/licenses/actions/heartbeat', { key, fingerprint: 'app-1' });
    expect(beat.status).toBe(200);
    expect((await validate(key, { fingerprint: 'app-1' })).body.code).toBe('VALID');
    const audits = await call('GET', `/v1/audit/events?targetId=${activated.body.id}`, {
      token: owner.accessToken,
    });
    expect(audits.body.data[0]).toMatchObject({
      action: 'machine.heartbeat',
      actorType: 'anonymous',
    });

    // Uninstalling frees the seat, with the key alone; another license's key cannot.
    const other = await license(await policy({ floating: true }));
    const foreign = await anonymous('/v1/licenses/actions/deactivate-machine', {
      key: other.key,
      fingerprint: 'app-1',
    });
    expect([foreign.status, foreign.body.code]).toEqual([404, 'MACHINE_NOT_FOUND']);
    const freed = await anonymous('/v1/licenses/actions/deactivate-machine', {
      key,
      fingerprint: 'app-1',
    });
    expect(freed.status).toBe(204);
    const second = await anonymous('/v1/licenses/actions/activate-machine', {
      key,
      fingerprint: 'app-2',
    });
    expect(second.status).toBe(201);
    const trail = await call('GET', `/v1/audit/events?targetId=${activated.body.id}`, {
      token: owner.accessToken,
    });
    expect(trail.body.data[0]).toMatchObject({
      action: 'machine.deactivated',
      actorType: 'anonymous',
    });
  });

  it('forgets a stored idempotent response once its customer is erased', async () => {
    const key = `idem-${randomUUID()}`;
    const body = { name: 'Jane Doe', email: 'jane@example.com' };
    const created = await as('POST', '/v1/customers', body, { 'idempotency-key': key });
    expect(
      (await as('POST', '/v1/customers', body, { 'idempotency-key': key })).headers.get(
        'idempotent-replayed',
      ),
    ).toBe('true');
    expect((await as('POST', `/v1/customers/${created.body.id}/actions/erase`)).status).toBe(200);
    const retried = await as('POST', '/v1/customers', body, { 'idempotency-key': key });
    expect(retried.headers.get('idempotent-replayed')).toBeNull();
    expect(retried.body.id).not.toBe(created.body.id);
  });

  it('refuses unknown references and deleting what is in use', async () => {
    expect(
      (await as('POST', '/v1/licenses', { policyId: randomUUID(), customerId })).body.code,
    ).toBe('POLICY_NOT_FOUND');
    const policyId = await policy();
    expect(
      (await as('POST', '/v1/licenses', { policyId, customerId: randomUUID() })).body.code,
    ).toBe('CUSTOMER_NOT_FOUND');
    expect(
      (await as('POST', '/v1/policies', { productId: randomUUID(), name: 'x' })).body.code,
    ).toBe('PRODUCT_NOT_FOUND');
    await license(policyId);
    expect((await as('DELETE', `/v1/policies/${policyId}`)).body.code).toBe('POLICY_IN_USE');
  });

  it('answers each of many concurrent validations (batched into shared queries) with its own result', async () => {
    const policyId = await policy({ durationSeconds: 30 * 86_400 });
    const a = await license(policyId);
    const b = await license(policyId);
    await as('POST', '/v1/machines', { licenseId: a.id, fingerprint: 'fp-a' });
    await as('POST', '/v1/licenses/' + b.id + '/actions/suspend');
    const cases: Array<[key: string, scope: Record<string, unknown> | undefined, code: string]> = [
      [a.key, undefined, 'VALID'],
      [a.key, { fingerprint: 'fp-a' }, 'VALID'],
      [a.key, { fingerprint: 'fp-other' }, 'FINGERPRINT_SCOPE_MISMATCH'],
      [b.key, undefined, 'SUSPENDED'],
      ['ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ', undefined, 'NOT_FOUND'],
    ];
    const requests = Array.from({ length: 60 }, (_, i) => cases[i % cases.length]);
    const answers = await Promise.all(
      requests.map(([key, scope], i) => validate(key, scope, `nonce-${i}`)),
    );
    answers.forEach((answer, i) => {
      expect(answer.body).toMatchObject({ code: requests[i][2], nonce: `nonce-${i}` });
      if (requests[i][2] !== 'NOT_FOUND') {
        expect(answer.body.license.id).toBe(requests[i][0] === a.key ? a.id : b.id);
      }
    });

    // Lookups made in one turn of the event loop share one query.
    const repository = t.app.get(ValidationRepository);
    const pool = (repository as unknown as { pool: { query: (...args: unknown[]) => unknown } })
      .pool;
    const queries = jest.spyOn(pool, 'query');
    try {
      const hash = (key: string) =>
        t.app.get(KeyedHash).digest(LICENSE_KEY_PURPOSE, canonicalLicenseKey(key));
      const rows = await Promise.all([
        repository.findForValidation(hash(a.key), 'fp-a'),
        repository.findForValidation(hash(b.key), null),
        repository.findForValidation(hash('nope'), null),
        repository.findForValidation(hash(a.key), null),
      ]);
      expect(queries).toHaveBeenCalledTimes(1);
      expect(rows.map((row) => row?.id ?? null)).toEqual([a.id, b.id, null, a.id]);
      expect(rows[0]!.machine).not.toBeNull();
      expect(rows[3]!.machine).toBeNull();
    } finally {
      queries.mockRestore();
    }
  });
});
