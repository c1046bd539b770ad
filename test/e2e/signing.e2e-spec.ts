import { createHash } from 'node:crypto';

import { compactVerify, createLocalJWKSet } from 'jose';
import type { JSONWebKeySet } from 'jose';

import { SIGNER } from 'src/modules/signing/signer';
import type { Signer } from 'src/modules/signing/signer';
import { Role } from 'src/platform/auth/roles';
import { api, controlClock, signedInAdmin } from 'test/e2e/admin-session';
import type { AdminSession } from 'test/e2e/admin-session';
import { startTestApp } from 'test/e2e/test-app';
import type { TestApp } from 'test/e2e/test-app';
import { cli } from 'test/support/cli';
import { createSoftHsmToken, describeHsm, hsmObjects } from 'test/support/softhsm';
import { queryDatabase } from 'test/support/test-database';
import type { SoftHsmToken } from 'test/support/softhsm';

const DAY_MS = 86_400_000;

const query = queryDatabase;

/** The token the PKCS#11 variables name. */
const tokenOf = (env: Record<string, string>) => ({
  modulePath: env.PKCS11_MODULE,
  label: env.PKCS11_TOKEN_LABEL,
  pin: env.PKCS11_PIN,
});

/** The same behaviour is required of both signers; the HSM run also inspects the token directly. */
function signingSuite(backend: 'software' | 'pkcs11', env: () => Record<string, string>): void {
  let t: TestApp;
  let owner: AdminSession;
  let clock: ReturnType<typeof controlClock>;
  let call: ReturnType<typeof api>;
  let licenseKey: string;

  const as = (method: string, path: string, body?: unknown) =>
    call(method, path, { token: owner.accessToken, body });

  async function jwks(): Promise<JSONWebKeySet> {
    const response = await call('GET', '/v1/keys');
    expect(response.status).toBe(200);
    return response.body as JSONWebKeySet;
  }

  /** A raw validate call: the signature covers the exact bytes, so the body is kept as text. */
  async function validateRaw(nonce: string): Promise<{ text: string; signature: string }> {
    const response = await fetch(`${t.baseUrl}/v1/licenses/actions/validate-key`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key: licenseKey, nonce }),
    });
    expect(response.status).toBe(200);
    return { text: await response.text(), signature: response.headers.get('tessera-signature')! };
  }

  /** What an app does: rebuild the JWS from the detached signature and the body, verify with the JWKS. */
  async function verifyDetached(text: string, detached: string, keys: JSONWebKeySet) {
    const [protectedHeader, empty, signature] = detached.split('.');
    expect(empty).toBe('');
    const jws = `${protectedHeader}.${Buffer.from(text).toString('base64url')}.${signature}`;
    return compactVerify(jws, createLocalJWKSet(keys));
  }

  beforeAll(async () => {
    t = await startTestApp({
      env: { RATE_LIMIT_ADMIN_PER_MINUTE: '100000', RATE_LIMIT_AUTH_PER_MINUTE: '1000', ...env() },
    });
    call = api(t);
    clock = controlClock(t);
    owner = await signedInAdmin(t, [Role.Owner], { mfa: true, clock });
    const product = await as('POST', '/v1/products', { name: 'Signed', code: `signed-${backend}` });
    const customer = await as('POST', '/v1/customers', {
      name: 'Initech',
      email: 'it@initech.example',
    });
    const policy = await as('POST', '/v1/policies', { productId: product.body.id, name: 'Std' });
    const license = await as('POST', '/v1/licenses', {
      policyId: policy.body.id,
      customerId: customer.body.id,
    });
    expect(license.status).toBe(201);
    licenseKey = license.body.key;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('boots with one ACTIVE key per purpose, published in a cacheable public JWKS', async () => {
    const response = await call('GET', '/v1/keys');
    expect(response.headers.get('cache-control')).toBe('public, max-age=300');
    const keys = (response.body as JSONWebKeySet).keys;
    expect(keys).toHaveLength(3);
    for (const key of keys) {
      expect(key).toMatchObject({ use: 'sig', kid: expect.any(String) });
      expect(key).not.toHaveProperty('d');
    }
    const listed = await as('GET', '/v1/signing-keys');
    expect(
      listed.body.data
        .map((k: { purpose: string; state: string; backend: string }) => [
          k.purpose,
          k.state,
          k.backend,
        ])
        .sort(),
    ).toEqual([
      ['audit', 'ACTIVE', backend],
      ['license', 'ACTIVE', backend],
      ['webhook', 'ACTIVE', backend],
    ]);
    const webhookKey = keys.find((k) => k.kid!.startsWith('webhook-'));
    expect(webhookKey).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA' });
  });

  it('signs validation responses over the exact body, nonce included, verifiable with jose and the JWKS', async () => {
    const { text, signature } = await validateRaw('nonce-123');
    expect(JSON.parse(text)).toMatchObject({
      valid: true,
      code: 'VALID',
      nonce: 'nonce-123',
      // What was checked is signed too, so a proxy cannot drop the scope or swap the key unnoticed.
      scope: { fingerprint: null, product: null, entitlements: [] },
      keySha256: createHash('sha256')
        .update(licenseKey.toUpperCase().replace(/-/g, ''))
        .digest('base64url'),
    });
    const verified = await verifyDetached(text, signature, await jwks());
    expect(verified.protectedHeader).toMatchObject({
      typ: 'tessera-validation+jws',
      kid: expect.stringMatching(/^license-/),
    });
    expect(Buffer.from(verified.payload).toString()).toBe(text);

    // A proxy that rewrites the answer (or replays it for another nonce) is caught.
    const forged = text.replace('nonce-123', 'nonce-999');
    await expect(verifyDetached(forged, signature, await jwks())).rejects.toThrow();
  });

  it('rotates the license key: new answers carry the new kid, old ones still verify, retire needs a replacement', async () => {
    const before = await validateRaw('before-rotation');
    const rotated = await as('POST', '/v1/signing-keys/actions/rotate', { purpose: 'license' });
    expect(rotated.status).toBe(200);
    expect(rotated.body).toMatchObject({ purpose: 'license', state: 'ACTIVE', backend });

    const after = await validateRaw('after-rotation');
    const keys = await jwks();
    const oldCheck = await verifyDetached(before.text, before.signature, keys);
    const newCheck = await verifyDetached(after.text, after.signature, keys);
    expect(newCheck.protectedHeader.kid).toBe(rotated.body.kid);
    expect(oldCheck.protectedHeader.kid).not.toBe(rotated.body.kid);

    const oldKid = oldCheck.protectedHeader.kid!;
    const old = await as('GET', `/v1/signing-keys/${oldKid}`);
    expect(old.body.state).toBe('RETIRING');

    const refused = await as('POST', `/v1/signing-keys/${rotated.body.kid}/actions/retire`);
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('SIGNING_KEY_STATE_CONFLICT');

    const retired = await as('POST', `/v1/signing-keys/${oldKid}/actions/retire`);
    expect(retired.body.state).toBe('RETIRED');
    // Still published for the retention period, so earlier signatures keep verifying...
    expect((await jwks()).keys.map((k) => k.kid)).toContain(oldKid);
    await verifyDetached(before.text, before.signature, await jwks());
    // ...and gone after it.
    clock.advance(366 * DAY_MS);
    expect((await jwks()).keys.map((k) => k.kid)).not.toContain(oldKid);
    clock.advance(-366 * DAY_MS);

    const audit = await as('GET', `/v1/audit/events?targetType=signing-key&limit=100`);
    const actions = audit.body.data.map((e: { action: string }) => e.action);
    expect(actions).toEqual(
      expect.arrayContaining([
        'signing-key.created',
        'signing-key.activated',
        'signing-key.retiring',
        'signing-key.retired',
      ]),
    );
  });

  it('revokes a compromised key: gone from the JWKS at once, and what it signed no longer verifies', async () => {
    const before = await validateRaw('signed-by-the-compromised-key');
    const compromised = (await verifyDetached(before.text, before.signature, await jwks()))
      .protectedHeader.kid!;
    const refused = await as('POST', `/v1/signing-keys/${compromised}/actions/revoke`);
    expect(refused.status).toBe(409); // ACTIVE: rotate first
    await as('POST', '/v1/signing-keys/actions/rotate', { purpose: 'license' });
    const revoked = await as('POST', `/v1/signing-keys/${compromised}/actions/revoke`);
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ state: 'REVOKED', revokedAt: expect.any(String) });
    expect((await jwks()).keys.map((k) => k.kid)).not.toContain(compromised);
    await expect(verifyDetached(before.text, before.signature, await jwks())).rejects.toThrow();
    // Retiring it would publish it again: refused, as is revoking twice.
    expect((await as('POST', `/v1/signing-keys/${compromised}/actions/retire`)).status).toBe(409);
    expect((await as('POST', `/v1/signing-keys/${compromised}/actions/revoke`)).status).toBe(409);
    expect((await as('POST', `/v1/signing-keys/${compromised}/actions/activate`)).status).toBe(409);
    const after = await validateRaw('after-revocation');
    await verifyDetached(after.text, after.signature, await jwks());
  });

  it('generates PENDING keys that are published before they sign, and activates them explicitly', async () => {
    const pending = await as('POST', '/v1/signing-keys', { purpose: 'audit', algorithm: 'ES256' });
    expect(pending.status).toBe(201);
    expect(pending.body).toMatchObject({
      state: 'PENDING',
      algorithm: 'ES256',
      publicJwk: { kty: 'EC', crv: 'P-256' },
    });
    expect((await jwks()).keys.map((k) => k.kid)).toContain(pending.body.kid);
    const activated = await as('POST', `/v1/signing-keys/${pending.body.kid}/actions/activate`);
    expect(activated.body.state).toBe('ACTIVE');
    const again = await as('POST', `/v1/signing-keys/${pending.body.kid}/actions/activate`);
    expect(again.status).toBe(409);
  });

  it('runs concurrent activations and rotations one after the other: one ACTIVE key, no 500', async () => {
    const pending = await Promise.all(
      [1, 2, 3].map(() => as('POST', '/v1/signing-keys', { purpose: 'audit' })),
    );
    const activations = await Promise.all(
      pending.map((p) => as('POST', `/v1/signing-keys/${p.body.kid}/actions/activate`)),
    );
    expect(activations.map((a) => a.status)).toEqual([200, 200, 200]);
    const rotations = await Promise.all(
      [1, 2, 3].map(() => as('POST', '/v1/signing-keys/actions/rotate', { purpose: 'audit' })),
    );
    expect(rotations.map((r) => r.status)).toEqual([200, 200, 200]);
    const audit = (await as('GET', '/v1/signing-keys')).body.data.filter(
      (k: { purpose: string }) => k.purpose === 'audit',
    );
    expect(audit.filter((k: { state: string }) => k.state === 'ACTIVE')).toHaveLength(1);
    expect(audit.filter((k: { state: string }) => k.state === 'PENDING')).toHaveLength(0);
    // Activating the ACTIVE key again while another activation runs: 409 if it is still ACTIVE when its
    // turn comes, 200 if the other made it RETIRING first; never a deadlock or a 500.
    const active = audit.find((k: { state: string }) => k.state === 'ACTIVE');
    const next = await as('POST', '/v1/signing-keys', { purpose: 'audit' });
    const raced = await Promise.all([
      as('POST', `/v1/signing-keys/${active.kid}/actions/activate`),
      as('POST', `/v1/signing-keys/${next.body.kid}/actions/activate`),
    ]);
    expect(raced[1].status).toBe(200);
    expect([200, 409]).toContain(raced[0].status);
    const after = (await as('GET', '/v1/signing-keys')).body.data.filter(
      (k: { purpose: string; state: string }) => k.purpose === 'audit' && k.state === 'ACTIVE',
    );
    expect(after).toHaveLength(1);
  });

  it('refuses webhook keys that are not Ed25519, unknown kids and bad purposes', async () => {
    const es256 = await as('POST', '/v1/signing-keys', { purpose: 'webhook', algorithm: 'ES256' });
    expect(es256.status).toBe(422);
    expect(es256.body.code).toBe('SIGNING_ALGORITHM_NOT_ALLOWED');
    expect((await as('POST', '/v1/signing-keys', { purpose: 'billing' })).status).toBe(400);
    const unknown = await as('POST', '/v1/signing-keys/nope/actions/activate');
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('SIGNING_KEY_NOT_FOUND');
  });

  it('answers 503 SIGNER_UNAVAILABLE, never an unsigned answer, when the signer fails', async () => {
    const signer = t.app.get<Signer>(SIGNER);
    const spy = jest.spyOn(signer, 'sign').mockRejectedValueOnce(new Error('CKR_DEVICE_ERROR'));
    try {
      const response = await call('POST', '/v1/licenses/actions/validate-key', {
        body: { key: licenseKey },
      });
      expect(response.status).toBe(503);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
      expect(response.body.code).toBe('SIGNER_UNAVAILABLE');
      expect(JSON.stringify(response.body)).not.toContain('CKR_');
    } finally {
      spy.mockRestore();
    }
    expect((await validateRaw('recovered')).signature).toBeTruthy();
  });

  it('requires a recent MFA verification to change keys', async () => {
    clock.advance(11 * 60_000);
    const stale = await as('POST', '/v1/signing-keys/actions/rotate', { purpose: 'license' });
    expect(stale.status).toBe(403);
    expect(stale.body.code).toBe('MFA_STEP_UP_REQUIRED');
    expect((await as('GET', '/v1/signing-keys')).status).toBe(200);
  });

  if (backend === 'pkcs11') {
    it('keeps private keys in the token: sensitive, not extractable, sign-only, and absent from the database', async () => {
      const rows = await query<{
        kid: string;
        hsm_label: string;
        private_key_sealed: string | null;
      }>(t.databaseUrl, `SELECT kid, hsm_label, private_key_sealed FROM signing_keys`);
      expect(rows.length).toBeGreaterThanOrEqual(3);
      for (const row of rows) {
        expect(row.private_key_sealed).toBeNull();
        const inspected = JSON.parse(hsmObjects(tokenOf(env()), 'inspect', row.hsm_label));
        expect(inspected).toMatchObject({
          count: 1,
          sensitive: true,
          extractable: false,
          token: true,
          private: true,
          sign: true,
          decrypt: false,
          unwrap: false,
          derive: false,
          public: { verify: true, encrypt: false, wrap: false },
        });
        expect(inspected.valueReadable).toMatch(/CKR_ATTRIBUTE_SENSITIVE/);
      }
    });

    it('lists keys a crashed process left in the token from the command line, and deletes them only with --delete', async () => {
      const token = env();
      const hsm = (...args: string[]) => hsmObjects(tokenOf(token), ...args);
      const labels = () =>
        [...new Set((JSON.parse(hsm('list')) as { label: string }[]).map((o) => o.label))].sort();
      const ring = (
        await query<{ hsm_label: string }>(t.databaseUrl, `SELECT hsm_label FROM signing_keys`)
      ).map((row) => row.hsm_label);
      // What a process that died between generating a key and committing its row leaves behind.
      const orphan = 'license-20260315-c0ffee00';
      hsm('generate', `tessera-${orphan}`, orphan);
      const keys = (...args: string[]) => cli('keys.js', args, t.databaseUrl, token);

      const listed = await keys('orphans');
      expect(listed.code).toBe(0);
      expect(
        listed.stdout
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line)),
      ).toEqual([
        { label: `tessera-${orphan}`, kid: orphan, objects: ['private', 'public'], deleted: false },
      ]);
      expect(listed.stderr).toContain('1 orphaned key(s); run again with --delete');
      expect(labels()).toContain(`tessera-${orphan}`);

      const deleted = await keys('orphans', '--delete');
      expect(deleted.code).toBe(0);
      expect(JSON.parse(deleted.stdout)).toMatchObject({
        label: `tessera-${orphan}`,
        deleted: true,
      });
      expect(labels()).toEqual([...ring].sort());
      const again = await keys('orphans', '--delete');
      expect([again.code, again.stdout, again.stderr.trim()]).toEqual([
        0,
        '',
        'No orphaned keys: every tessera-* key in the token has its row.',
      ]);
      expect((await keys('list', '--delete')).code).toBe(2);
      // The ring still signs: nothing of it was touched.
      expect((await validateRaw('after-orphans')).signature).toMatch(/^ey/);
    });

    it('reports the HSM in the readiness check', async () => {
      const ready = await call('GET', '/health/ready');
      expect(ready.status).toBe(200);
      expect(ready.body.info).toHaveProperty('signer.status', 'up');
    });
  } else {
    it('finds no orphans with the software signer, which keeps keys only in their rows', async () => {
      const swept = await cli('keys.js', ['orphans', '--delete'], t.databaseUrl);
      expect([swept.code, swept.stdout, swept.stderr.trim()]).toEqual([
        0,
        '',
        'The software signer keeps keys only in their rows: nothing can be orphaned.',
      ]);
    });

    it('stores software keys only sealed, never as plaintext PKCS#8', async () => {
      const rows = await query<{ private_key_sealed: string }>(
        t.databaseUrl,
        `SELECT private_key_sealed FROM signing_keys`,
      );
      for (const row of rows) {
        expect(row.private_key_sealed).toMatch(/^v1\./);
        expect(row.private_key_sealed).not.toContain('PRIVATE KEY');
      }
    });
  }
}

describe('signing with the software signer', () => {
  signingSuite('software', () => ({}));
});

describeHsm('signing with a PKCS#11 HSM (SoftHSM2)', () => {
  let token: SoftHsmToken | undefined;
  signingSuite('pkcs11', () => {
    token ??= createSoftHsmToken();
    return {
      SIGNING_BACKEND: 'pkcs11',
      PKCS11_MODULE: token.modulePath,
      PKCS11_TOKEN_LABEL: token.label,
      PKCS11_PIN: token.pin,
    };
  });
});
