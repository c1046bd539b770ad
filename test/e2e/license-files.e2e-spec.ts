import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { compactVerify, createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import type { JSONWebKeySet, JWTPayload } from 'jose';
import { DataSource } from 'typeorm';

import { Role } from 'src/platform/auth/roles';
import { api, controlClock, signedInAdmin } from 'test/e2e/admin-session';
import type { AdminSession } from 'test/e2e/admin-session';
import { startTestApp } from 'test/e2e/test-app';
import type { TestApp } from 'test/e2e/test-app';
import { createSoftHsmToken, describeHsm } from 'test/support/softhsm';
import type { SoftHsmToken } from 'test/support/softhsm';

const DAY = 86_400;
const EXAMPLE = join(__dirname, '../../docs/examples/verify-license-file.mjs');
const DOC = join(__dirname, '../../docs/license-file.md');

/** The documented example, imported as an app would import it. */
interface Example {
  dearmour(text: string): string;
  verifyLicenseFile(
    text: string,
    jwks: JSONWebKeySet,
    options?: { licenseKey?: string; fingerprint?: string; currentDate?: Date },
  ): Promise<{ kid: string; expiresAt: Date; license: Record<string, any> }>;
  verifySignedLicenseKey(key: string, jwks: JSONWebKeySet): Promise<Record<string, any>>;
}

/** Run once with the software signer and once against SoftHSM: the files must not depend on the backend. */
function licenseFileSuite(env: () => Record<string, string>): void {
  let t: TestApp;
  let owner: AdminSession;
  let clock: ReturnType<typeof controlClock>;
  let call: ReturnType<typeof api>;
  let example: Example;
  let productId: string;
  let productCode: string;
  let customerId: string;

  const as = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
    call(method, path, { token: owner.accessToken, body, headers });
  const checkOut = (id: string, body: unknown = {}, headers?: Record<string, string>) =>
    as('POST', `/v1/licenses/${id}/actions/check-out`, body, headers);
  const anonymous = (path: string, body: unknown) => call('POST', path, { body });

  async function jwks(): Promise<JSONWebKeySet> {
    return (await call('GET', '/v1/keys')).body as JSONWebKeySet;
  }

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
  ): Promise<{ id: string; key: string; keyPrefix: string; expiresAt: string | null }> {
    const response = await as('POST', '/v1/licenses', { policyId, customerId, ...extra });
    expect(response.status).toBe(201);
    return response.body;
  }

  /** The JWT's claims after jose verified its signature with the JWKS. */
  async function verified(certificate: string, currentDate = clock.now()): Promise<JWTPayload> {
    const { payload } = await jwtVerify(
      example.dearmour(certificate),
      createLocalJWKSet(await jwks()),
      {
        issuer: 'tessera',
        typ: 'tessera-license+jwt',
        currentDate,
      },
    );
    return payload;
  }

  /** One character of the signed body changed, the armour left intact. */
  function altered(certificate: string, at: number): string {
    const lines = certificate.split('\n');
    const line = lines[2];
    lines[2] = `${line.slice(0, at)}${line[at] === 'A' ? 'B' : 'A'}${line.slice(at + 1)}`;
    return lines.join('\n');
  }

  beforeAll(async () => {
    t = await startTestApp({
      env: { RATE_LIMIT_ADMIN_PER_MINUTE: '100000', RATE_LIMIT_AUTH_PER_MINUTE: '1000', ...env() },
    });
    call = api(t);
    clock = controlClock(t);
    owner = await signedInAdmin(t, [Role.Owner], { mfa: true, clock });
    example = (await import(EXAMPLE)) as Example;
    productCode = `files-${randomUUID().slice(0, 6)}`;
    productId = (await as('POST', '/v1/products', { name: 'Acme Offline', code: productCode })).body
      .id;
    customerId = (await as('POST', '/v1/customers', { name: 'Globex', email: 'it@globex.example' }))
      .body.id;
    for (const code of ['feature.export-pdf', 'feature.sso']) {
      expect((await as('POST', '/v1/entitlements', { code, name: code })).status).toBe(201);
    }
  });
  afterAll(async () => {
    await t.close();
  });

  it('checks out a signed license file that jose verifies with the JWKS, and audits it', async () => {
    const policyId = await policy({
      durationSeconds: 90 * DAY,
      entitlements: ['feature.export-pdf'],
    });
    const issued = await license(policyId, { entitlements: ['feature.sso'], name: 'Seat 1' });
    const response = await checkOut(issued.id);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      certificate: expect.stringMatching(
        /^-----BEGIN TESSERA LICENSE FILE-----\n([\w.-]{64}\n)+[\w.-]{1,64}\n-----END TESSERA LICENSE FILE-----\n$/,
      ),
      kid: expect.stringMatching(/^license-/),
      alg: 'EdDSA',
      issuedAt: expect.any(String),
      expiresAt: expect.any(String),
      ttl: 30 * DAY,
      encrypted: false,
    });
    const jwt = example.dearmour(response.body.certificate);
    expect(decodeProtectedHeader(jwt)).toEqual({
      alg: 'EdDSA',
      kid: response.body.kid,
      typ: 'tessera-license+jwt',
    });
    const claims = await verified(response.body.certificate);
    expect(claims).toMatchObject({
      iss: 'tessera',
      sub: issued.id,
      nbf: claims.iat,
      exp: claims.iat! + 30 * DAY,
      ttl: 30 * DAY,
      jti: expect.stringMatching(/^[\w-]{22}$/),
    });
    expect(new Date(claims.exp! * 1000).toISOString()).toBe(response.body.expiresAt);
    expect(claims.license).toEqual({
      id: issued.id,
      keyPrefix: issued.keyPrefix,
      name: 'Seat 1',
      status: 'ACTIVE',
      expiresAt: issued.expiresAt,
      customerId,
      entitlements: ['feature.export-pdf', 'feature.sso'],
      metadata: {},
      policy: {
        id: policyId,
        name: expect.any(String),
        productId,
        product: productCode,
        floating: false,
        maxMachines: null,
        expirationStrategy: 'RESTRICT_ACCESS',
        requireHeartbeat: false,
        heartbeatDurationSeconds: null,
        requireCheckIn: false,
        checkInIntervalSeconds: null,
      },
      machine: null,
    });

    const audits = await as('GET', `/v1/audit/events?targetId=${issued.id}`);
    expect(audits.body.data[0]).toMatchObject({
      action: 'license.checked-out',
      actorType: 'admin',
      actorId: owner.id,
      metadata: { jti: claims.jti, kid: response.body.kid, ttl: 30 * DAY, encrypted: false },
    });
    const events = await t.app
      .get(DataSource)
      .query(`SELECT type, data FROM outbox_events WHERE aggregate_id = $1 ORDER BY sequence`, [
        issued.id,
      ]);
    expect(events.map((e: { type: string }) => e.type)).toEqual([
      'license.created',
      'license.checked-out',
    ]);
    expect(events[1].data).toMatchObject({
      licenseId: issued.id,
      machineId: null,
      jti: claims.jti,
    });
    expect(JSON.stringify(events[1].data)).not.toContain(jwt.slice(0, 40));
  });

  it('encrypts the license with a key derived from the license key, so only its holder reads it', async () => {
    const issued = await license(await policy(), { name: 'Confidential seat' });
    const response = await checkOut(issued.id, { encrypt: true, key: issued.key, ttl: 7 * DAY });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ encrypted: true, ttl: 7 * DAY });
    const claims = await verified(response.body.certificate);
    expect(claims).not.toHaveProperty('license');
    expect(claims.enc).toEqual({
      alg: 'A256GCM',
      kdf: 'HKDF-SHA256',
      ikm: 'key',
      salt: expect.any(String),
      iv: expect.any(String),
      ciphertext: expect.any(String),
      tag: expect.any(String),
    });
    expect(JSON.stringify(claims)).not.toContain('Confidential');

    // The key as a person would type it still decrypts: it is canonicalised as for validation.
    const typed = issued.key.toLowerCase().replace(/-/g, ' ');
    const opened = await example.verifyLicenseFile(response.body.certificate, await jwks(), {
      licenseKey: typed,
      currentDate: clock.now(),
    });
    expect(opened.license).toMatchObject({ id: issued.id, name: 'Confidential seat' });
    const other = await license(await policy());
    await expect(
      example.verifyLicenseFile(response.body.certificate, await jwks(), {
        licenseKey: other.key,
        currentDate: clock.now(),
      }),
    ).rejects.toThrow();
    await expect(
      example.verifyLicenseFile(response.body.certificate, await jwks(), {
        currentDate: clock.now(),
      }),
    ).rejects.toThrow(/license key is needed/);
  });

  it('refuses encryption without the key or with another license key, and a key without encryption', async () => {
    const issued = await license(await policy());
    const other = await license(await policy());
    const missing = await checkOut(issued.id, { encrypt: true });
    expect(missing.status).toBe(422);
    expect(missing.headers.get('content-type')).toContain('application/problem+json');
    expect(missing.body.code).toBe('LICENSE_KEY_REQUIRED');
    expect((await checkOut(issued.id, { encrypt: true, key: other.key })).body).toMatchObject({
      status: 422,
      code: 'LICENSE_KEY_MISMATCH',
    });
    expect((await checkOut(issued.id, { key: issued.key })).body.code).toBe('LICENSE_KEY_UNUSED');
    expect((await checkOut(issued.id, { encrypt: 'yes' })).body.code).toBe('VALIDATION_FAILED');
    expect((await checkOut(issued.id, { ttl: 'long' })).status).toBe(400);
    expect((await checkOut(randomUUID())).body.code).toBe('LICENSE_NOT_FOUND');
  });

  it('checks out machine files bound to the machine, and to its fingerprint when encrypted', async () => {
    const issued = await license(await policy({ floating: true, maxMachines: 2 }));
    const machine = (
      await as('POST', '/v1/machines', { licenseId: issued.id, fingerprint: 'fp-office' })
    ).body;
    const plain = await as('POST', `/v1/machines/${machine.id}/actions/check-out`, {});
    expect(plain.status).toBe(200);
    const claims = await verified(plain.body.certificate);
    expect(claims.license).toMatchObject({
      id: issued.id,
      machine: { id: machine.id, fingerprint: 'fp-office' },
    });
    await expect(
      example.verifyLicenseFile(plain.body.certificate, await jwks(), {
        fingerprint: 'fp-laptop',
        currentDate: clock.now(),
      }),
    ).rejects.toThrow(/another machine/);
    // A machine file checked without saying which machine: refused, not taken as valid anywhere.
    await expect(
      example.verifyLicenseFile(plain.body.certificate, await jwks(), { currentDate: clock.now() }),
    ).rejects.toThrow(/bound to a machine/);

    const sealed = await as('POST', `/v1/machines/${machine.id}/actions/check-out`, {
      encrypt: true,
      key: issued.key,
    });
    expect(sealed.body.encrypted).toBe(true);
    expect(((await verified(sealed.body.certificate)).enc as { ikm: string }).ikm).toBe(
      'key+fingerprint',
    );
    const options = { licenseKey: issued.key, currentDate: clock.now() };
    const opened = await example.verifyLicenseFile(sealed.body.certificate, await jwks(), {
      ...options,
      fingerprint: 'fp-office',
    });
    expect(opened.license.machine).toEqual({ id: machine.id, fingerprint: 'fp-office' });
    await expect(
      example.verifyLicenseFile(sealed.body.certificate, await jwks(), {
        ...options,
        fingerprint: 'fp-laptop',
      }),
    ).rejects.toThrow();

    const audits = await as('GET', `/v1/audit/events?targetId=${machine.id}`);
    expect(audits.body.data[0]).toMatchObject({
      action: 'machine.checked-out',
      metadata: { licenseId: issued.id, machineId: machine.id, encrypted: true },
    });
    expect((await as('POST', `/v1/machines/${randomUUID()}/actions/check-out`, {})).body.code).toBe(
      'MACHINE_NOT_FOUND',
    );
  });

  it('lets an app check out with nothing but its license key (and fingerprint)', async () => {
    const issued = await license(await policy({ floating: true, maxMachines: 1 }));
    const path = '/v1/licenses/actions/check-out';
    const wrong = await anonymous(path, { key: 'AAAAA-BBBBB-CCCCC-DDDDD-EEEEE-FFFFF' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.code).toBe('INVALID_LICENSE_KEY');
    const file = await anonymous(path, { key: issued.key, ttl: 2 * DAY });
    expect(file.status).toBe(200);
    expect(file.headers.get('ratelimit-limit-validate')).toBe('6000');
    expect(await verified(file.body.certificate)).toMatchObject({ sub: issued.id, ttl: 2 * DAY });

    expect((await anonymous(path, { key: issued.key, fingerprint: 'fp-field' })).body.code).toBe(
      'MACHINE_NOT_FOUND',
    );
    await anonymous('/v1/licenses/actions/activate-machine', {
      key: issued.key,
      fingerprint: 'fp-field',
    });
    const sealed = await anonymous(path, {
      key: issued.key,
      fingerprint: 'fp-field',
      encrypt: true,
    });
    expect(sealed.status).toBe(200);
    const opened = await example.verifyLicenseFile(sealed.body.certificate, await jwks(), {
      licenseKey: issued.key,
      fingerprint: 'fp-field',
      currentDate: clock.now(),
    });
    expect(opened.license.machine).toMatchObject({ fingerprint: 'fp-field' });
    const audits = await as('GET', `/v1/audit/events?targetId=${opened.license.machine.id}`);
    expect(audits.body.data[0]).toMatchObject({
      action: 'machine.checked-out',
      actorType: 'anonymous',
      actorIp: '127.0.0.1',
    });
    expect((await anonymous(path, { key: issued.key, extra: 1 })).status).toBe(400);
  });

  it('runs the documented example as a command, and the documentation quotes it verbatim', async () => {
    const source = readFileSync(EXAMPLE, 'utf8');
    expect(readFileSync(DOC, 'utf8')).toContain('```js\n' + source + '```');

    const issued = await license(await policy());
    const machine = (
      await as('POST', '/v1/machines', { licenseId: issued.id, fingerprint: 'fp-cli' })
    ).body;
    const response = await as('POST', `/v1/machines/${machine.id}/actions/check-out`, {
      encrypt: true,
      key: issued.key,
    });
    const dir = mkdtempSync(join(tmpdir(), 'tessera-license-file-'));
    writeFileSync(join(dir, 'license.lic'), response.body.certificate);
    writeFileSync(join(dir, 'altered.lic'), altered(response.body.certificate, 30));
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify(await jwks()));
    const run = (file: string) =>
      promisify(execFile)(process.execPath, [
        EXAMPLE,
        join(dir, file),
        join(dir, 'jwks.json'),
        issued.key,
        'fp-cli',
      ]);

    const { stdout } = await run('license.lic');
    expect(JSON.parse(stdout)).toMatchObject({
      kid: response.body.kid,
      expiresAt: response.body.expiresAt,
      license: { id: issued.id, machine: { id: machine.id, fingerprint: 'fp-cli' } },
    });
    await expect(run('altered.lic')).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^invalid license file: /),
    });
  });

  it('refuses a file altered by one character, and an expired file', async () => {
    const issued = await license(await policy());
    const response = await checkOut(issued.id, { ttl: 3_600 });
    const keys = await jwks();
    const now = clock.now();
    for (const at of [0, 10, 40, 63]) {
      await expect(verified(altered(response.body.certificate, at))).rejects.toThrow();
      await expect(
        example.verifyLicenseFile(altered(response.body.certificate, at), keys, {
          currentDate: now,
        }),
      ).rejects.toThrow();
    }
    const expiresAt = new Date(response.body.expiresAt);
    await expect(
      verified(response.body.certificate, new Date(expiresAt.getTime() - 1000)),
    ).resolves.toMatchObject({ sub: issued.id });
    await expect(verified(response.body.certificate, expiresAt)).rejects.toMatchObject({
      code: 'ERR_JWT_EXPIRED',
    });
    // The example allows five minutes of clock drift, no more.
    await expect(
      example.verifyLicenseFile(response.body.certificate, keys, {
        currentDate: new Date(expiresAt.getTime() + 301_000),
      }),
    ).rejects.toThrow(/exp/);
  });

  it('keeps files verifiable across a key rotation; new files carry the new kid', async () => {
    const issued = await license(await policy());
    const before = await checkOut(issued.id);
    const rotated = await as('POST', '/v1/signing-keys/actions/rotate', {
      purpose: 'license',
      algorithm: 'ES256',
    });
    expect(rotated.status).toBe(200);
    expect(rotated.body.kid).not.toBe(before.body.kid);

    const keys = await jwks();
    expect(keys.keys.map((k) => k.kid)).toEqual(
      expect.arrayContaining([before.body.kid, rotated.body.kid]),
    );
    const old = await example.verifyLicenseFile(before.body.certificate, keys, {
      currentDate: clock.now(),
    });
    expect(old).toMatchObject({ kid: before.body.kid, license: { id: issued.id } });

    const after = await checkOut(issued.id);
    expect(after.body).toMatchObject({ kid: rotated.body.kid, alg: 'ES256' });
    expect(decodeProtectedHeader(example.dearmour(after.body.certificate)).alg).toBe('ES256');
    expect(await verified(after.body.certificate)).toMatchObject({ sub: issued.id });
  });

  it('holds the TTL within an hour, the configured maximum and the check-in interval', async () => {
    const issued = await license(await policy());
    expect((await checkOut(issued.id, { ttl: 3_599 })).body).toMatchObject({
      status: 422,
      code: 'LICENSE_FILE_TTL_TOO_SHORT',
      min: 3_600,
    });
    expect((await checkOut(issued.id, { ttl: 365 * DAY + 1 })).body).toMatchObject({
      code: 'LICENSE_FILE_TTL_TOO_LONG',
      max: 365 * DAY,
    });
    expect((await checkOut(issued.id, { ttl: 3_600 })).body.ttl).toBe(3_600);
    expect((await checkOut(issued.id, { ttl: 365 * DAY })).body.ttl).toBe(365 * DAY);

    const checkIn = await license(
      await policy({ requireCheckIn: true, checkInIntervalSeconds: 2 * 3_600 }),
    );
    expect((await checkOut(checkIn.id, { ttl: 3 * 3_600 })).body).toMatchObject({
      code: 'LICENSE_FILE_TTL_EXCEEDS_CHECK_IN',
      max: 7_200,
    });
    // The default is shortened to the interval rather than refused.
    expect((await checkOut(checkIn.id)).body.ttl).toBe(7_200);
  });

  it('refuses to check out suspended, revoked and expired licenses', async () => {
    const issued = await license(await policy({ floating: true }));
    const machine = (
      await as('POST', '/v1/machines', { licenseId: issued.id, fingerprint: 'fp-s' })
    ).body;
    await as('POST', `/v1/licenses/${issued.id}/actions/suspend`);
    const suspended = await checkOut(issued.id);
    expect(suspended.status).toBe(422);
    expect(suspended.body.code).toBe('LICENSE_SUSPENDED');
    expect((await as('POST', `/v1/machines/${machine.id}/actions/check-out`, {})).body.code).toBe(
      'LICENSE_SUSPENDED',
    );
    expect((await anonymous('/v1/licenses/actions/check-out', { key: issued.key })).body.code).toBe(
      'LICENSE_SUSPENDED',
    );
    await as('POST', `/v1/licenses/${issued.id}/actions/revoke`);
    expect((await checkOut(issued.id)).body.code).toBe('LICENSE_REVOKED');

    const lapsed = new Date(clock.now().getTime() - 60_000).toISOString();
    const expired = await license(await policy(), { expiresAt: lapsed });
    expect((await checkOut(expired.id)).body.code).toBe('LICENSE_EXPIRED');
    const maintained = await license(await policy({ expirationStrategy: 'MAINTAIN_ACCESS' }), {
      expiresAt: lapsed,
    });
    const file = await checkOut(maintained.id);
    expect(file.status).toBe(200);
    expect((await verified(file.body.certificate)).license).toMatchObject({ status: 'EXPIRED' });

    const audits = await as('GET', `/v1/audit/events?targetId=${issued.id}`);
    expect(audits.body.data.map((e: { action: string }) => e.action)).not.toContain(
      'license.checked-out',
    );
  });

  it('replays a keyed check-out instead of issuing a second file', async () => {
    const issued = await license(await policy());
    const key = `idem-${randomUUID()}`;
    const first = await checkOut(issued.id, { ttl: DAY }, { 'idempotency-key': key });
    const retry = await checkOut(issued.id, { ttl: DAY }, { 'idempotency-key': key });
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.body).toEqual(first.body);
    expect(
      (await checkOut(issued.id, { ttl: 2 * DAY }, { 'idempotency-key': key })).body.code,
    ).toBe('IDEMPOTENCY_KEY_REUSED');
    const audits = await as('GET', `/v1/audit/events?targetId=${issued.id}`);
    expect(
      audits.body.data.filter((e: { action: string }) => e.action === 'license.checked-out'),
    ).toHaveLength(1);
  });

  it('requires license.check-out: support may, sales and read-only may not', async () => {
    const issued = await license(await policy());
    const machine = (
      await as('POST', '/v1/machines', { licenseId: issued.id, fingerprint: 'fp-p' })
    ).body;
    const paths = [
      `/v1/licenses/${issued.id}/actions/check-out`,
      `/v1/machines/${machine.id}/actions/check-out`,
    ];
    for (const [role, status] of [
      [Role.Support, 200],
      [Role.Sales, 403],
      [Role.ReadOnly, 403],
    ] as const) {
      const admin = await signedInAdmin(t, [role]);
      for (const path of paths) {
        const response = await call('POST', path, { token: admin.accessToken, body: {} });
        expect(`${role} ${path} ${response.status}`).toBe(`${role} ${path} ${status}`);
      }
    }
    for (const path of paths) {
      expect((await call('POST', path, { body: {} })).status).toBe(401);
    }
    const document = (await call('GET', '/openapi.json')).body;
    expect(document.paths['/v1/licenses/{id}/actions/check-out'].post['x-permission']).toBe(
      'license.check-out',
    );
    expect(document.paths['/v1/machines/{id}/actions/check-out'].post['x-permission']).toBe(
      'license.check-out',
    );
    expect(document.paths['/v1/licenses/actions/check-out'].post.responses['200']).toBeDefined();
    expect(document.components.schemas.PolicyDto.properties.keyScheme.enum).toEqual([
      'RANDOM',
      'SIGNED',
    ]);
  });

  describe('signed license keys', () => {
    it('issues a JWS key that verifies offline with the JWKS and embeds id, expiry and entitlements', async () => {
      const policyId = await policy({
        keyScheme: 'SIGNED',
        durationSeconds: 30 * DAY,
        entitlements: ['feature.export-pdf'],
      });
      expect((await as('GET', `/v1/policies/${policyId}`)).body.keyScheme).toBe('SIGNED');
      const issued = await license(policyId, { entitlements: ['feature.sso'] });
      expect(issued.key).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
      const [, , signature] = issued.key.split('.');
      expect(issued.keyPrefix).toBe(signature.slice(0, 5));

      const keys = await jwks();
      const { protectedHeader } = await compactVerify(issued.key, createLocalJWKSet(keys));
      expect(protectedHeader).toMatchObject({ typ: 'tessera-key+jws', kid: expect.any(String) });
      const embedded = await example.verifySignedLicenseKey(issued.key, keys);
      expect(embedded).toEqual({
        lid: issued.id,
        iat: expect.any(Number),
        exp: Math.floor(new Date(issued.expiresAt!).getTime() / 1000),
        ent: ['feature.export-pdf', 'feature.sso'],
        jti: expect.stringMatching(/^[\w-]{22}$/),
      });
      const forged = `${issued.key.split('.')[0]}.${Buffer.from(
        JSON.stringify({ ...embedded, ent: ['everything'] }),
      ).toString('base64url')}.${signature}`;
      await expect(example.verifySignedLicenseKey(forged, keys)).rejects.toThrow();

      const perpetual = await license(await policy({ keyScheme: 'SIGNED' }));
      expect(await example.verifySignedLicenseKey(perpetual.key, keys)).not.toHaveProperty('exp');
    });

    it('validates, activates machines and checks out files like a random key', async () => {
      const issued = await license(await policy({ keyScheme: 'SIGNED', floating: true }));
      const validate = (key: string, scope?: unknown) =>
        anonymous('/v1/licenses/actions/validate-key', { key, scope });
      expect((await validate(issued.key)).body).toMatchObject({
        valid: true,
        code: 'VALID',
        license: { id: issued.id },
      });
      // Wrapped by a mail client: whitespace is dropped, case is kept.
      const wrapped = issued.key.replace(/(.{60})/g, '$1\n ');
      expect((await validate(wrapped)).body.code).toBe('VALID');
      expect((await validate(issued.key.toUpperCase())).body.code).toBe('NOT_FOUND');
      const [header, payload, signature] = issued.key.split('.');
      const flipped = `${header}.${payload}.${signature[0] === 'A' ? 'B' : 'A'}${signature.slice(1)}`;
      expect((await validate(flipped)).body.code).toBe('NOT_FOUND');

      const activated = await anonymous('/v1/licenses/actions/activate-machine', {
        key: issued.key,
        fingerprint: 'fp-signed',
      });
      expect(activated.status).toBe(201);
      expect((await validate(issued.key, { fingerprint: 'fp-signed' })).body.code).toBe('VALID');

      const file = await anonymous('/v1/licenses/actions/check-out', {
        key: issued.key,
        fingerprint: 'fp-signed',
        encrypt: true,
      });
      expect(file.status).toBe(200);
      const opened = await example.verifyLicenseFile(file.body.certificate, await jwks(), {
        licenseKey: wrapped,
        fingerprint: 'fp-signed',
        currentDate: clock.now(),
      });
      expect(opened.license).toMatchObject({ id: issued.id, keyPrefix: issued.keyPrefix });
      const byId = await checkOut(issued.id, { encrypt: true, key: issued.key });
      expect(byId.status).toBe(200);
    });

    it('keeps issuing random keys by default', async () => {
      const policyId = await policy();
      expect((await as('GET', `/v1/policies/${policyId}`)).body.keyScheme).toBe('RANDOM');
      const issued = await license(policyId);
      expect(issued.key).toMatch(/^([0-9A-HJKMNP-TV-Z]{5}-){5}[0-9A-HJKMNP-TV-Z]{5}$/);
      expect(
        (await anonymous('/v1/licenses/actions/validate-key', { key: issued.key })).body.code,
      ).toBe('VALID');
      expect(
        (await as('POST', '/v1/policies', { productId, name: 'x', keyScheme: 'HMAC' })).status,
      ).toBe(400);
    });

    it('refuses a signed key too long to be a key, and issues nothing', async () => {
      const codes: string[] = [];
      for (let i = 0; i < 40; i++) {
        const code = `feature.long-${i}-${'x'.repeat(80)}`;
        expect((await as('POST', '/v1/entitlements', { code, name: code })).status).toBe(201);
        codes.push(code);
      }
      const policyId = await policy({ keyScheme: 'SIGNED', entitlements: codes });
      const refused = await as('POST', '/v1/licenses', { policyId, customerId });
      expect(refused.status).toBe(422);
      expect(refused.body).toMatchObject({ code: 'SIGNED_LICENSE_KEY_TOO_LONG', max: 4096 });
      expect((await as('GET', `/v1/licenses?policyId=${policyId}`)).body.data).toEqual([]);
    });
  });

  it('refuses a license overdue for its check-in until it checks in', async () => {
    const issued = await license(
      await policy({ requireCheckIn: true, checkInIntervalSeconds: 3_600 }),
    );
    clock.advance(2 * 3_600_000);
    expect((await checkOut(issued.id)).body.code).toBe('LICENSE_OVERDUE');
    await as('POST', `/v1/licenses/${issued.id}/actions/check-in`);
    const file = await checkOut(issued.id);
    expect(file.body).toMatchObject({ ttl: 3_600 });
    expect(await verified(file.body.certificate)).toMatchObject({ sub: issued.id });
  });
}

describe('license files and signed license keys (software signer)', () => {
  licenseFileSuite(() => ({}));
});

describeHsm('license files and signed license keys signed in a PKCS#11 HSM (SoftHSM2)', () => {
  let token: SoftHsmToken | undefined;
  licenseFileSuite(() => {
    token ??= createSoftHsmToken();
    return {
      SIGNING_BACKEND: 'pkcs11',
      PKCS11_MODULE: token.modulePath,
      PKCS11_TOKEN_LABEL: token.label,
      PKCS11_PIN: token.pin,
    };
  });
});
