import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';

import type { JSONWebKeySet } from 'jose';
import { DataSource } from 'typeorm';

import { restoreBackup, verifyArchive } from 'src/platform/backup/restore';
import { startEmbeddedPostgres } from 'src/platform/database/embedded-postgres';
import type { EmbeddedDatabase } from 'src/platform/database/embedded-postgres';
import { dataSourceOptions } from 'src/platform/database/database-options';
import { migrateWithLock, migrationNames } from 'src/platform/database/migrator';
import { Role } from 'src/platform/auth/roles';
import { api, controlClock, signedInAdmin } from 'test/e2e/admin-session';
import type { AdminSession } from 'test/e2e/admin-session';
import { startTestApp } from 'test/e2e/test-app';
import type { TestApp } from 'test/e2e/test-app';
import { freePort } from 'test/support/global-setup';
import { cli } from 'test/support/cli';
import { asRole, createTestDatabase, queryDatabase } from 'test/support/test-database';
import { testConfig } from 'test/support/test-config';
import { LOOPBACK_WEBHOOKS_ENV, startWebhookReceiver } from 'test/support/webhook-receiver';
import type { WebhookReceiver } from 'test/support/webhook-receiver';

const ROOT = join(__dirname, '..', '..');
const EXAMPLE = join(ROOT, 'docs/examples/verify-license-file.mjs');

interface Example {
  verifyLicenseFile(
    text: string,
    jwks: JSONWebKeySet,
    options?: { currentDate?: Date },
  ): Promise<{ kid: string; license: Record<string, any> }>;
}

const query = queryDatabase;

async function rowCounts(url: string, tables: readonly string[]): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of tables) {
    const [row] = await query<{ n: string }>(url, `SELECT count(*)::text AS n FROM "${table}"`);
    counts[table] = Number(row.n);
  }
  return counts;
}

// Each test starts real servers (and the round trip two databases): generous on a loaded CI machine.
jest.setTimeout(180_000);

describe('backup and restore', () => {
  let source: TestApp;
  let owner: AdminSession;
  let call: ReturnType<typeof api>;
  let clock: ReturnType<typeof controlClock>;
  let receiver: WebhookReceiver;
  let target: EmbeddedDatabase;
  let archive: string;
  const keys = new Map<string, string>(); // license id -> key, for every license ever issued

  const as = (method: string, path: string, body?: unknown) =>
    call(method, path, { token: owner.accessToken, body });
  const env = {
    ...LOOPBACK_WEBHOOKS_ENV,
    WEBHOOK_POLL_INTERVAL_MS: '250',
    RATE_LIMIT_ADMIN_PER_MINUTE: '1000000',
    RATE_LIMIT_AUTH_PER_MINUTE: '1000',
    RATE_LIMIT_VALIDATE_PER_MINUTE: '1000000',
    RATE_LIMIT_ANONYMOUS_PER_MINUTE: '1000000',
  };

  async function issue(policyId: string, customerId: string): Promise<string> {
    const response = await as('POST', '/v1/licenses', { policyId, customerId });
    expect(response.status).toBe(201);
    keys.set(response.body.id, response.body.key);
    return response.body.id;
  }

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    source = await startTestApp({ env });
    call = api(source);
    clock = controlClock(source);
    owner = await signedInAdmin(source, [Role.Owner], { mfa: true, clock });

    const dir = mkdtempSync(join(tmpdir(), 'tessera-restore-'));
    chmodSync(dir, 0o755); // as root the embedded server runs as `postgres` and must enter it
    target = await startEmbeddedPostgres({
      dir: join(dir, 'pg'),
      port: await freePort(),
      log: () => undefined,
      durable: false,
    });
    archive = join(mkdtempSync(join(tmpdir(), 'tessera-archive-')), 'tessera.tar.gz');
  });
  afterAll(async () => {
    await source.close();
    await receiver.close();
    await target.stop();
  });

  it('round-trips the whole database taken while writes go on, into a fresh embedded PostgreSQL', async () => {
    const product = await as('POST', '/v1/products', {
      name: 'Acme',
      code: `acme-${randomUUID().slice(0, 6)}`,
    });
    const customer = await as('POST', '/v1/customers', {
      name: 'Globex',
      email: 'it@globex.example',
    });
    const policy = await as('POST', '/v1/policies', {
      productId: product.body.id,
      name: 'Seat',
      maxMachines: 1,
    });
    expect(policy.status).toBe(201);
    const endpoint = await as('POST', '/v1/webhook-endpoints', {
      url: `${receiver.url}/hooks`,
      eventTypes: ['license.*'],
    });
    expect(endpoint.status).toBe(201);

    const active = await issue(policy.body.id, customer.body.id);
    const suspended = await issue(policy.body.id, customer.body.id);
    const revoked = await issue(policy.body.id, customer.body.id);
    for (let i = 0; i < 20; i += 1) {
      await issue(policy.body.id, customer.body.id);
    }
    expect((await as('POST', `/v1/licenses/${suspended}/actions/suspend`)).status).toBe(200);
    expect((await as('POST', `/v1/licenses/${revoked}/actions/revoke`)).status).toBe(200);
    expect(
      (await as('POST', '/v1/machines', { licenseId: active, fingerprint: 'fp-office' })).status,
    ).toBe(201);
    const checkedOut = await as('POST', `/v1/licenses/${active}/actions/check-out`, {});
    expect(checkedOut.status).toBe(200);
    const licenseFile: string = checkedOut.body.certificate;
    // Deliveries exist before the backup (the receiver got them).
    await receiver.waitFor((received) => received.length > 0, 15_000);

    // Writes go on during the whole backup.
    let writing = true;
    let writtenDuring = 0;
    const writer = (async () => {
      while (writing) {
        await issue(policy.body.id, customer.body.id);
        writtenDuring += 1;
      }
    })();
    const backup = await cli('backup.js', ['--out', archive], source.databaseUrl);
    writing = false;
    await writer;
    expect(backup.stderr).toBe('');
    expect(backup.code).toBe(0);
    const summary = JSON.parse(backup.stdout) as {
      rows: number;
      sha256: string;
      tables: Record<string, number>;
      auditChainHead: { sequence: number; hash: string };
    };
    expect(writtenDuring).toBeGreaterThan(0);
    expect(summary.tables).toMatchObject({
      licenses: expect.any(Number),
      machines: 1,
      signing_keys: 3,
      webhook_endpoints: 1,
    });
    expect(summary.tables.webhook_deliveries).toBeGreaterThan(0);
    expect(summary.tables.audit_events).toBe(summary.auditChainHead.sequence);
    const manifest = await verifyArchive(archive);
    expect(manifest.schemaVersion).toBe(manifest.migrations[manifest.migrations.length - 1]);

    const restored = await cli('restore.js', [archive], target.url, {
      DATABASE_MIGRATION_URL: target.migrationUrl,
    });
    expect(restored.stderr).toBe('');
    expect(restored.code).toBe(0);
    expect(JSON.parse(restored.stdout)).toMatchObject({ rows: summary.rows, migrated: true });
    const tables = manifest.tables.map((t) => t.name);
    expect(await rowCounts(target.url, tables)).toEqual(summary.tables);

    const verified = await cli('audit-verify.js', [], target.url);
    expect(verified.code).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true });

    // The restored Tessera answers every validation as the original does.
    const copy = await startTestApp({
      env,
      databaseUrl: target.url,
      migrationUrl: target.migrationUrl,
    });
    try {
      const restoredCall = api(copy);
      const restoredIds = (await query<{ id: string }>(target.url, 'SELECT id FROM licenses')).map(
        (r) => r.id,
      );
      expect(restoredIds.length).toBe(summary.tables.licenses);
      for (const id of restoredIds) {
        const key = keys.get(id)!;
        const body = { key, scope: { fingerprint: 'fp-office' } };
        const before = await call('POST', '/v1/licenses/actions/validate-key', { body });
        const after = await restoredCall('POST', '/v1/licenses/actions/validate-key', { body });
        expect({ id, valid: after.body.valid, code: after.body.code }).toEqual({
          id,
          valid: before.body.valid,
          code: before.body.code,
        });
      }
      const codes = new Set<string>();
      for (const id of [active, suspended, revoked]) {
        codes.add(
          (
            await restoredCall('POST', '/v1/licenses/actions/validate-key', {
              body: { key: keys.get(id), scope: { fingerprint: 'fp-office' } },
            })
          ).body.code,
        );
      }
      expect(codes.size).toBe(3); // the comparison covered different answers, not one repeated

      // A license file signed before the backup verifies against the restored key set, and the
      // restored software keys (sealed with the same ENCRYPTION_KEY) sign new ones.
      const example = (await import(EXAMPLE)) as Example;
      const jwks = (await restoredCall('GET', '/v1/keys')).body as JSONWebKeySet;
      await expect(example.verifyLicenseFile(licenseFile, jwks)).resolves.toMatchObject({
        license: expect.objectContaining({ id: active }),
      });
      const admin = await signedInAdmin(copy, [Role.Owner], { mfa: true });
      const fresh = await restoredCall('POST', `/v1/licenses/${active}/actions/check-out`, {
        token: admin.accessToken,
        body: {},
      });
      expect(fresh.status).toBe(200);
      await expect(example.verifyLicenseFile(fresh.body.certificate, jwks)).resolves.toBeDefined();
    } finally {
      await copy.close();
    }

    // A second restore into the now filled database is refused, and changes nothing.
    const again = await cli('restore.js', [archive], target.url, {
      DATABASE_MIGRATION_URL: target.migrationUrl,
    });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/the target database is not empty: .*licenses \(\d+ rows\)/);
  });

  describe('refuses', () => {
    const build = async () => {
      const ds = await new DataSource(
        dataSourceOptions(testConfig(), source.databaseUrl),
      ).initialize();
      try {
        return migrationNames(ds);
      } finally {
        await ds.destroy();
      }
    };
    // Restores load as the owner (they create the schema and switch triggers off inside the load).
    const migrator = (url: string) => async () => {
      const ds = await new DataSource(
        dataSourceOptions(testConfig(), asRole(url, 'owner')),
      ).initialize();
      await migrateWithLock(ds, 'tessera_app');
      await ds.destroy();
    };
    const tableCount = async (url: string) =>
      Number(
        (
          await query<{ n: string }>(
            url,
            `SELECT count(*)::text AS n FROM pg_tables WHERE schemaname = 'public'`,
          )
        )[0].n,
      );

    it('an archive whose schema version is not this Tessera’s, before touching the database', async () => {
      const url = await createTestDatabase({ empty: true });
      await expect(
        restoreBackup({
          databaseUrl: asRole(url, 'owner'),
          file: archive,
          buildMigrations: [...(await build()), 'AddSomethingNew1999999999999'],
          migrate: migrator(url),
        }),
      ).rejects.toThrow(/schema version is \w+, this Tessera's is AddSomethingNew1999999999999/);
      expect(await tableCount(url)).toBe(0);
    });

    it('a damaged archive, naming the part whose checksum fails', async () => {
      const tar = gunzipSync(readFileSync(archive));
      const manifest = await verifyArchive(archive);
      const licenses = manifest.tables.find((t) => t.name === 'licenses')!;
      // Flip one byte of the licenses data, leaving every tar header intact.
      let header = tar.indexOf(Buffer.from(`${licenses.file}\0`));
      while (header % 512 !== 0) {
        header = tar.indexOf(Buffer.from(`${licenses.file}\0`), header + 1); // the name in a tar header
      }
      const at = header + 512 + 40;
      tar[at] = tar[at] === 0x61 ? 0x62 : 0x61;
      const damaged = join(mkdtempSync(join(tmpdir(), 'tessera-damaged-')), 'damaged.tar.gz');
      writeFileSync(damaged, gzipSync(tar));
      const url = await createTestDatabase({ empty: true });
      const result = await cli('restore.js', [damaged], url);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('data/licenses.copy does not match the manifest');
      expect(await tableCount(url)).toBe(0);
    });

    it('nothing half-restored when loading fails part-way: one transaction', async () => {
      const url = await createTestDatabase(); // migrated, empty
      const manifest = await verifyArchive(archive);
      const last = [...manifest.tables].reverse().find((t) => t.rows > 0)!;
      // The last table to load rejects every new row, after all the others are in.
      await query(
        asRole(url, 'owner'),
        `ALTER TABLE "${last.name}" ADD CONSTRAINT chk_refuse CHECK (false) NOT VALID`,
      );
      await expect(
        restoreBackup({
          databaseUrl: asRole(url, 'owner'),
          file: archive,
          buildMigrations: await build(),
          migrate: migrator(url),
        }),
      ).rejects.toThrow(/chk_refuse/);
      const counts = await rowCounts(
        url,
        manifest.tables.map((t) => t.name),
      );
      expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(1); // the seeded chain head only
      expect(await query(url, 'SELECT sequence::int FROM audit_chain_head')).toEqual([
        { sequence: 0 },
      ]);
      // The append-only guard is on again.
      await expect(query(url, 'UPDATE audit_chain_head SET sequence = 5')).rejects.toThrow(
        /only moves forward, onto a chained event/,
      );
    });
  });
});
