import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { compactVerify, createLocalJWKSet } from 'jose';
import type { JSONWebKeySet } from 'jose';
import { Client } from 'pg';

import { chainHash } from 'src/modules/audit/audit-chain';
import type { AuditEventFields } from 'src/modules/audit/audit-chain';
import { AuditCheckpointService } from 'src/modules/audit-checkpoints/audit-checkpoint.service';
import { SigningService } from 'src/modules/signing/signing.service';
import { Role } from 'src/platform/auth/roles';
import { api, controlClock, signedInAdmin } from 'test/e2e/admin-session';
import type { AdminSession } from 'test/e2e/admin-session';
import { startTestApp } from 'test/e2e/test-app';
import type { TestApp } from 'test/e2e/test-app';
import { cli } from 'test/support/cli';
import { asRole } from 'test/support/test-database';

/** As the database superuser: what these tests do to the tables, the server's own role may not. */
async function query<T = unknown>(databaseUrl: string, text: string): Promise<T[]> {
  const client = new Client({ connectionString: asRole(databaseUrl, 'superuser') });
  await client.connect();
  try {
    return (await client.query(text)).rows as T[];
  } finally {
    await client.end();
  }
}

/**
 * What a database superuser can do: rewrite history from the first event on (one actor IP changed),
 * recomputing every hash and the head, with the append-only triggers off. Returns the new hashes.
 */
async function rewriteChain(databaseUrl: string): Promise<Map<number, string>> {
  const client = new Client({ connectionString: asRole(databaseUrl, 'superuser') });
  await client.connect();
  const hashes = new Map<number, string>();
  try {
    const rows = (
      await client.query<AuditEventFields & { prevHash: string; hash: string; occurredAt: Date }>(
        `SELECT id, sequence::int AS sequence, occurred_at AS "occurredAt", actor_type AS "actorType",
           actor_id AS "actorId", actor_ip AS "actorIp", user_agent AS "userAgent", request_id AS "requestId",
           action, target_type AS "targetType", target_id AS "targetId", changes, metadata,
           prev_hash AS "prevHash", hash
         FROM audit_events ORDER BY sequence`,
      )
    ).rows;
    let prevHash = '0'.repeat(64);
    await client.query('BEGIN');
    await client.query('ALTER TABLE audit_events DISABLE TRIGGER USER');
    await client.query('ALTER TABLE audit_chain_head DISABLE TRIGGER USER');
    for (const row of rows) {
      const forged = {
        ...row,
        occurredAt: new Date(row.occurredAt).toISOString(),
        actorIp: row.sequence === 1 ? '203.0.113.66' : row.actorIp,
        prevHash,
      };
      const hash = chainHash(prevHash, forged);
      await client.query(
        `UPDATE audit_events SET actor_ip = $1, prev_hash = $2, hash = $3 WHERE sequence = $4`,
        [forged.actorIp, prevHash, hash, row.sequence],
      );
      hashes.set(row.sequence, hash);
      prevHash = hash;
    }
    await client.query(`UPDATE audit_chain_head SET hash = $1`, [prevHash]);
    await client.query('ALTER TABLE audit_events ENABLE TRIGGER USER');
    await client.query('ALTER TABLE audit_chain_head ENABLE TRIGGER USER');
    await client.query('COMMIT');
  } finally {
    await client.end();
  }
  return hashes;
}

describe('signed audit checkpoints', () => {
  let t: TestApp;
  let owner: AdminSession;
  let clock: ReturnType<typeof controlClock>;
  let call: ReturnType<typeof api>;
  let checkpoints: AuditCheckpointService;

  const as = (method: string, path: string, body?: unknown) =>
    call(method, path, { token: owner.accessToken, body });

  async function sql<T>(text: string, params: unknown[] = []): Promise<T[]> {
    const client = new Client({ connectionString: asRole(t.databaseUrl, 'superuser') });
    await client.connect();
    try {
      return (await client.query(text, params)).rows as T[];
    } finally {
      await client.end();
    }
  }

  beforeAll(async () => {
    t = await startTestApp({
      env: { RATE_LIMIT_ADMIN_PER_MINUTE: '100000', RATE_LIMIT_AUTH_PER_MINUTE: '1000' },
    });
    call = api(t);
    clock = controlClock(t);
    owner = await signedInAdmin(t, [Role.Owner], { mfa: true, clock });
    checkpoints = t.app.get(AuditCheckpointService);
    await as('POST', '/v1/products', { name: 'Audited', code: 'audited' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('signs the chain head on demand, verifiable with jose and the JWKS', async () => {
    const created = await as('POST', '/v1/audit/checkpoints');
    expect(created.status).toBe(201);
    const [head] = await sql<{ sequence: string; hash: string }>(
      `SELECT sequence, hash FROM audit_chain_head`,
    );
    expect(created.body).toMatchObject({ sequence: Number(head.sequence), hash: head.hash });

    const keys = (await call('GET', '/v1/keys')).body as JSONWebKeySet;
    const { payload, protectedHeader } = await compactVerify(
      created.body.jws,
      createLocalJWKSet(keys),
    );
    expect(protectedHeader).toMatchObject({
      typ: 'tessera-audit-checkpoint+jws',
      kid: created.body.kid,
    });
    expect(JSON.parse(Buffer.from(payload).toString())).toMatchObject({
      seq: Number(head.sequence),
      hash: head.hash,
    });

    // Nothing happened since: the same checkpoint, not a new one.
    const again = await as('POST', '/v1/audit/checkpoints');
    expect(again.body.id).toBe(created.body.id);
  });

  it('runs on a schedule in one instance at a time, only when the chain moved and the interval passed', async () => {
    await expect(checkpoints.runScheduled()).resolves.toBeNull(); // the chain did not move
    await as('POST', '/v1/products', { name: 'Moved', code: 'moved' });
    await expect(checkpoints.runScheduled()).resolves.toBeNull(); // the last one is too recent
    clock.advance(61 * 60_000);
    const results = await Promise.all([checkpoints.runScheduled(), checkpoints.runScheduled()]);
    expect(results.filter((r) => r !== null)).toHaveLength(1);
    const listed = await as('GET', '/v1/audit/checkpoints');
    expect(listed.body.data).toHaveLength(2);
    expect(listed.body.data[0].sequence).toBeGreaterThan(listed.body.data[1].sequence);
  });

  it('keeps verifying checkpoints signed before the audit key was rotated', async () => {
    owner = await signedInAdmin(t, [Role.Owner], { mfa: true, clock }); // a fresh step-up
    const rotated = await as('POST', '/v1/signing-keys/actions/rotate', { purpose: 'audit' });
    expect(rotated.status).toBe(200);
    const latest = await as('POST', '/v1/audit/checkpoints');
    expect(latest.body.kid).toBe(rotated.body.kid);
    const verified = await as('GET', '/v1/audit/checkpoints/verify');
    expect(verified.body).toEqual({ ok: true, checked: 3, problems: [] });
  });

  it('detects a rewrite of the whole chain with recomputed hashes, which the chain alone accepts', async () => {
    await rewriteChain(t.databaseUrl);

    const chain = await as('GET', '/v1/audit/verify');
    expect(chain.body.ok).toBe(true); // consistent: the chain alone cannot tell
    const verified = await as('GET', '/v1/audit/checkpoints/verify');
    expect(verified.body.ok).toBe(false);
    expect(verified.body.problems).toHaveLength(3);
    expect(verified.body.problems.map((p: { reason: string }) => p.reason)).toEqual([
      'HASH_MISMATCH',
      'HASH_MISMATCH',
      'HASH_MISMATCH',
    ]);

    // The operator's command says the same and fails.
    const result = await cli('audit-verify.js', [], t.databaseUrl);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({
      ok: false,
      chain: { ok: true },
      checkpoints: { ok: false, checked: 3 },
    });
  });

  it('refuses a forged checkpoint signature', async () => {
    const [row] = await sql<{ id: string; signature: string }>(
      `SELECT id, signature FROM audit_checkpoints ORDER BY sequence DESC LIMIT 1`,
    );
    const [header, payload, signature] = row.signature.split('.');
    const flipped = Buffer.from(signature, 'base64url');
    flipped[0] ^= 1;
    await sql(`UPDATE audit_checkpoints SET signature = $1 WHERE id = $2`, [
      `${header}.${payload}.${flipped.toString('base64url')}`,
      row.id,
    ]);
    const verified = await as('GET', '/v1/audit/checkpoints/verify');
    expect(verified.body.problems).toContainEqual(
      expect.objectContaining({ checkpointId: row.id, reason: 'BAD_SIGNATURE' }),
    );
  });

  it('rotates keys from the command line, audited as the system', async () => {
    const rotated = await cli('keys.js', ['rotate', '--purpose', 'webhook'], t.databaseUrl);
    expect(rotated.stderr).toBe('');
    expect(rotated.code).toBe(0);
    const key = JSON.parse(rotated.stdout);
    expect(key).toMatchObject({ purpose: 'webhook', state: 'ACTIVE', algorithm: 'EdDSA' });
    const listed = await cli('keys.js', ['list'], t.databaseUrl);
    const kids = listed.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line).kid);
    expect(kids).toContain(key.kid);
    const usage = await cli('keys.js', ['rotate', '--purpose', 'nope'], t.databaseUrl);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('usage: npm run keys');
    const audit = await as('GET', `/v1/audit/events?targetType=signing-key&targetId=${key.kid}`);
    expect(audit.body.data[0]).toMatchObject({
      action: 'signing-key.activated',
      actorType: 'system',
    });
  });
});

describe('audit checkpoints against a database writer who also forges keys and checkpoints', () => {
  let t: TestApp;
  let owner: AdminSession;
  let call: ReturnType<typeof api>;
  const as = (method: string, path: string, body?: unknown) =>
    call(method, path, { token: owner.accessToken, body });

  beforeAll(async () => {
    t = await startTestApp({
      env: { RATE_LIMIT_ADMIN_PER_MINUTE: '100000', RATE_LIMIT_AUTH_PER_MINUTE: '1000' },
    });
    call = api(t);
    const clock = controlClock(t);
    owner = await signedInAdmin(t, [Role.Owner], { mfa: true, clock });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('is caught with the JWKS and checkpoint copies kept outside the database', async () => {
    await as('POST', '/v1/products', { name: 'First', code: 'first' });
    const first = (await as('POST', '/v1/audit/checkpoints')).body;
    await as('POST', '/v1/products', { name: 'Second', code: 'second' });
    const second = (await as('POST', '/v1/audit/checkpoints')).body;

    // What an auditor keeps elsewhere: the published JWKS, and the checkpoints as webhooks delivered them.
    const dir = mkdtempSync(join(tmpdir(), 'tessera-evidence-'));
    const jwksFile = join(dir, 'jwks.json');
    writeFileSync(jwksFile, JSON.stringify((await call('GET', '/v1/keys')).body));
    const events = await query<{ id: string; type: string; sequence: string; data: unknown }>(
      t.databaseUrl,
      `SELECT id, type, sequence, data FROM outbox_events WHERE type = 'audit.checkpointed' ORDER BY sequence`,
    );
    expect(events.map((e) => [e.type, Number(e.sequence)])).toEqual([
      ['audit.checkpointed', 1],
      ['audit.checkpointed', 2],
    ]);
    const copiesFile = join(dir, 'checkpoints.ndjson');
    writeFileSync(
      copiesFile,
      events
        .map((e) =>
          JSON.stringify({ id: e.id, type: e.type, sequence: Number(e.sequence), data: e.data }),
        )
        .join('\n'),
    );

    // The attack: rewrite the chain, put the attacker's public key in place of the audit key, re-sign
    // the newest checkpoint with it and delete the older one. Everything in the database agrees again.
    const hashes = await rewriteChain(t.databaseUrl);
    const attacker = generateKeyPairSync('ed25519');
    const jwk = attacker.publicKey.export({ format: 'jwk' });
    await query(
      t.databaseUrl,
      `UPDATE signing_keys SET public_jwk = '${JSON.stringify(jwk)}'::jsonb WHERE kid = '${second.kid}'`,
    );
    const header = second.jws.split('.')[0];
    const payload = Buffer.from(
      JSON.stringify({ seq: second.sequence, hash: hashes.get(second.sequence), iat: 1 }),
    ).toString('base64url');
    const forged = `${header}.${payload}.${sign(null, Buffer.from(`${header}.${payload}`), attacker.privateKey).toString('base64url')}`;
    await query(
      t.databaseUrl,
      `UPDATE audit_checkpoints SET hash = '${hashes.get(second.sequence)}', signature = '${forged}'
       WHERE id = '${second.id}'`,
    );
    await query(t.databaseUrl, `DELETE FROM audit_checkpoints WHERE id = '${first.id}'`);

    // From the database alone, nothing shows (once the instance has re-read its key ring): this is why
    // the evidence must live elsewhere.
    await t.app.get(SigningService).reload();
    expect((await as('GET', '/v1/audit/verify')).body.ok).toBe(true);
    expect((await as('GET', '/v1/audit/checkpoints/verify')).body.ok).toBe(true);
    const blind = await cli('audit-verify.js', [], t.databaseUrl);
    expect(blind.code).toBe(0);

    // With the pinned JWKS, the forged signature fails.
    const pinned = await cli('audit-verify.js', ['--jwks', jwksFile], t.databaseUrl);
    expect(pinned.code).toBe(1);
    expect(JSON.parse(pinned.stdout).checkpoints.problems).toEqual([
      { checkpointId: second.id, sequence: second.sequence, reason: 'BAD_SIGNATURE' },
    ]);

    // With the copies, the deletion and the alteration show; the copies themselves, checked with the key
    // now in the database (the attacker's), fail their signatures.
    const copied = await cli('audit-verify.js', ['--checkpoints', copiesFile], t.databaseUrl);
    expect(copied.code).toBe(1);
    expect(JSON.parse(copied.stdout).checkpoints.problems).toEqual([
      { checkpointId: first.id, sequence: first.sequence, reason: 'CHECKPOINT_MISSING' },
      { checkpointId: second.id, sequence: second.sequence, reason: 'CHECKPOINT_ALTERED' },
      { checkpointId: first.id, sequence: first.sequence, reason: 'BAD_SIGNATURE' },
      { checkpointId: second.id, sequence: second.sequence, reason: 'BAD_SIGNATURE' },
    ]);

    // With both, the genuine copies verify under the pinned key, and the chain no longer has their hashes.
    const both = await cli(
      'audit-verify.js',
      ['--jwks', jwksFile, '--checkpoints', copiesFile],
      t.databaseUrl,
    );
    expect(both.code).toBe(1);
    expect(JSON.parse(both.stdout).checkpoints.problems).toEqual(
      expect.arrayContaining([
        { checkpointId: first.id, sequence: first.sequence, reason: 'CHECKPOINT_MISSING' },
        { checkpointId: second.id, sequence: second.sequence, reason: 'CHECKPOINT_ALTERED' },
        { checkpointId: first.id, sequence: first.sequence, reason: 'HASH_MISMATCH' },
        { checkpointId: second.id, sequence: second.sequence, reason: 'HASH_MISMATCH' },
      ]),
    );

    const usage = await cli(
      'audit-verify.js',
      ['--jwks', join(dir, 'missing.json')],
      t.databaseUrl,
    );
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('usage: npm run audit:verify');
  });
});
