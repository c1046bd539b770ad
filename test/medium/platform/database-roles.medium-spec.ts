import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Client } from 'pg';
import { DataSource } from 'typeorm';

import { runtimeRoleProblems } from 'src/platform/database/database-roles';
import { dataSourceOptions } from 'src/platform/database/database-options';
import { startEmbeddedPostgres, withDatabase } from 'src/platform/database/embedded-postgres';
import { migrateWithLock } from 'src/platform/database/migrator';
import { freePort } from 'test/support/global-setup';
import { testConfig } from 'test/support/test-config';
import { asRole, createTestDatabase, queryAs } from 'test/support/test-database';

async function connect(url: string): Promise<Client> {
  const client = new Client({ connectionString: url });
  await client.connect();
  return client;
}

async function problemsAs(url: string): Promise<string[]> {
  const client = await connect(url);
  try {
    return await runtimeRoleProblems(client);
  } finally {
    await client.end();
  }
}

/** The server's own role, on a migrated database: everything Tessera does, nothing more. */
describe('the runtime database role', () => {
  let url: string;
  let runtime: Client;

  beforeAll(async () => {
    url = await createTestDatabase();
    runtime = await connect(url);
    // One audit event to refuse changes to.
    await runtime.query(
      `INSERT INTO audit_events (id, sequence, occurred_at, actor_type, action, target_type, prev_hash, hash)
       VALUES ($1, 1, now(), 'system', 'test.done', 'test', repeat('0', 64), repeat('1', 64))`,
      [randomUUID()],
    );
  });
  afterAll(async () => {
    await runtime.end();
  });

  it('is neither a superuser nor the owner of any table', async () => {
    const { rows } = await runtime.query<{ role: string; super: boolean; owned: string }>(
      `SELECT current_user AS role, rolsuper AS super,
         (SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user) AS owned
       FROM pg_roles WHERE rolname = current_user`,
    );
    expect(rows).toEqual([{ role: 'tessera_app', super: false, owned: '0' }]);
    await expect(runtimeRoleProblems(runtime)).resolves.toEqual([]);
  });

  it.each([
    [
      'disable the audit triggers',
      'ALTER TABLE audit_events DISABLE TRIGGER USER',
      /must be owner/,
    ],
    [
      'drop an audit trigger',
      'DROP TRIGGER trg_audit_events_append_only ON audit_events',
      /must be owner/,
    ],
    [
      'replace the trigger function',
      `CREATE OR REPLACE FUNCTION audit_events_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$`,
      /permission denied for schema public/,
    ],
    [
      'skip triggers for the session',
      'SET session_replication_role = replica',
      /permission denied/,
    ],
    [
      'update an audit event',
      `UPDATE audit_events SET action = 'forged'`,
      /permission denied for table audit_events/,
    ],
    [
      'delete an audit event',
      'DELETE FROM audit_events',
      /permission denied for table audit_events/,
    ],
    ['truncate the audit log', 'TRUNCATE audit_events', /permission denied for table audit_events/],
    [
      'delete a checkpoint',
      'DELETE FROM audit_checkpoints',
      /permission denied for table audit_checkpoints/,
    ],
    [
      'rewrite a checkpoint',
      `UPDATE audit_checkpoints SET signature = 'x'`,
      /permission denied for table audit_checkpoints/,
    ],
    [
      'rewrite an event waiting to be linked',
      `UPDATE audit_pending SET action = 'forged'`,
      /permission denied for table audit_pending/,
    ],
    [
      'move the chain head back',
      'UPDATE audit_chain_head SET sequence = 0',
      /audit_chain_head only moves forward/,
    ],
    [
      'move the chain head past its events',
      `UPDATE audit_chain_head SET sequence = 7, hash = repeat('7', 64)`,
      /onto a chained event: no event 7 with its hash/,
    ],
    [
      'reset the chain head',
      'DELETE FROM audit_chain_head',
      /permission denied for table audit_chain_head/,
    ],
    ['alter a table', 'ALTER TABLE licenses ADD COLUMN forged text', /must be owner/],
    ['drop a table', 'DROP TABLE webhook_attempts', /must be owner/],
    ['truncate any table', 'TRUNCATE licenses', /permission denied for table licenses/],
    ['create a table', 'CREATE TABLE forged (id int)', /permission denied for schema public/],
    [
      'record a migration',
      `INSERT INTO migrations (timestamp, name) VALUES (1, 'Forged1')`,
      /permission denied for table migrations/,
    ],
    ['create a role', 'CREATE ROLE forged SUPERUSER', /permission denied/],
    ['take ownership', 'ALTER TABLE audit_events OWNER TO tessera_app', /must be owner/],
  ])('may not %s', async (_what, sql, message) => {
    await expect(runtime.query(sql)).rejects.toThrow(message);
  });

  it('still refuses what the owner may not do either: an audit event cannot be changed even there', async () => {
    await expect(
      queryAs(url, 'owner', [[`UPDATE audit_events SET action = 'forged'`]]),
    ).rejects.toThrow('audit_events is append-only');
    const { rows } = await runtime.query(`SELECT action FROM audit_events`);
    expect(rows).toEqual([{ action: 'test.done' }]);
  });

  it('does what the application does: rows, sequences, LISTEN/NOTIFY and advisory locks', async () => {
    // A mutation writes its event to audit_pending; a link takes it and moves the head onto the chain.
    await runtime.query(
      `INSERT INTO audit_pending (id, occurred_at, actor_type, action, target_type)
       VALUES ($1, now(), 'system', 'test.waiting', 'test')`,
      [randomUUID()],
    );
    await runtime.query(`SELECT sequence FROM audit_chain_head FOR UPDATE`);
    await expect(
      runtime.query(`DELETE FROM audit_pending RETURNING action`),
    ).resolves.toMatchObject({ rows: [{ action: 'test.waiting' }] });
    await runtime.query(`UPDATE audit_chain_head SET sequence = 1, hash = repeat('1', 64)`);
    await runtime.query(`DELETE FROM outbox_events WHERE false`);
    await runtime.query(`SELECT last_value FROM migrations_id_seq`);
    await runtime.query(`SELECT name FROM migrations LIMIT 1`);
    await runtime.query('LISTEN tessera_test');
    await runtime.query(`SELECT pg_notify('tessera_test', '')`);
    await runtime.query('SELECT pg_advisory_lock(42), pg_advisory_unlock(42)');
    await runtime.query(`SELECT pg_advisory_xact_lock(hashtextextended('x', 0))`);
  });

  it('gets row privileges on a table a later migration creates, without a grant step', async () => {
    await queryAs(url, 'owner', [
      ['CREATE TABLE later_feature (id serial PRIMARY KEY, note text)'],
    ]);
    await runtime.query(`INSERT INTO later_feature (note) VALUES ('a')`);
    await runtime.query(`UPDATE later_feature SET note = 'b'`);
    await expect(runtime.query(`SELECT note FROM later_feature`)).resolves.toMatchObject({
      rows: [{ note: 'b' }],
    });
    await runtime.query(`DELETE FROM later_feature`);
    await expect(runtime.query('TRUNCATE later_feature')).rejects.toThrow(/permission denied/);
    await expect(runtime.query('DROP TABLE later_feature')).rejects.toThrow(/must be owner/);
  });
});

describe('the boot check of the runtime role', () => {
  it('names a superuser', async () => {
    const url = await createTestDatabase();
    const problems = await problemsAs(asRole(url, 'superuser'));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /^The database role "\w+" the server connects as \(DATABASE_URL\) is a superuser/,
    );
    expect(problems[0]).toContain('DATABASE_MIGRATION_URL');
  });

  it('names a role that owns the tables (migrations run as the server role)', async () => {
    const url = await createTestDatabase();
    const [problem] = await problemsAs(asRole(url, 'owner'));
    expect(problem).toMatch(
      /"tessera_owner" the server connects as \(DATABASE_URL\) owns \d+ of the tables \(/,
    );
  });

  it('names a role that may change the audit log', async () => {
    const url = await createTestDatabase();
    await queryAs(url, 'owner', [['GRANT UPDATE, DELETE ON audit_events TO tessera_app']]);
    await expect(problemsAs(url)).resolves.toEqual([
      expect.stringContaining(
        '"tessera_app" the server connects as (DATABASE_URL) may UPDATE, DELETE audit_events.',
      ),
    ]);
    // The next migration run takes the privileges back.
    const owner = await new DataSource(
      dataSourceOptions(testConfig(), asRole(url, 'owner')),
    ).initialize();
    try {
      await migrateWithLock(owner, 'tessera_app');
    } finally {
      await owner.destroy();
    }
    await expect(problemsAs(url)).resolves.toEqual([]);
  });
});

describe('an embedded data directory from before the role split', () => {
  it('is upgraded on start: roles created, ownership handed to the owner, the server role stripped of power', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'tessera-legacy-'));
    chmodSync(parent, 0o755);
    const dir = join(parent, 'pg');
    const options = { dir, port: await freePort(), log: () => undefined, durable: false };
    const first = await startEmbeddedPostgres(options);
    await first.stop();
    // Rewrite it as earlier versions left it: the superuser `tessera`, Tessera's tables in `postgres`,
    // created by that superuser, and a credentials file naming only it. (The owner and runtime roles the
    // first start made stay, with passwords the upgrade no longer knows: it sets new ones.)
    const legacy = await startEmbeddedPostgres(options);
    const admin = await connect(legacy.superuserUrl);
    await admin.query(`CREATE ROLE tessera SUPERUSER LOGIN PASSWORD 'legacy-password'`);
    await admin.end();
    const legacyUrl = `postgres://tessera:legacy-password@127.0.0.1:${options.port}/postgres`;
    const old = await new DataSource(dataSourceOptions(testConfig(), legacyUrl)).initialize();
    await migrateWithLock(old);
    await old.query(
      `INSERT INTO audit_events (id, sequence, occurred_at, actor_type, action, target_type, prev_hash, hash)
       VALUES ($1, 1, now(), 'system', 'legacy.kept', 'test', repeat('0', 64), repeat('1', 64))`,
      [randomUUID()],
    );
    await old.destroy();
    await legacy.stop();
    writeFileSync(
      join(dir, 'tessera-credentials.json'),
      JSON.stringify({ user: 'tessera', password: 'legacy-password' }),
    );

    const upgraded = await startEmbeddedPostgres(options);
    try {
      expect(new URL(upgraded.url).pathname).toBe('/postgres');
      expect(new URL(upgraded.url).username).toBe('tessera_app');
      const stored = JSON.parse(readFileSync(join(dir, 'tessera-credentials.json'), 'utf8')) as {
        database: string;
        owner: { user: string };
        runtime: { user: string };
      };
      expect(stored).toMatchObject({
        database: 'postgres',
        owner: { user: 'tessera_owner' },
        runtime: { user: 'tessera_app' },
      });
      const check = await connect(withDatabase(upgraded.superuserUrl, 'postgres'));
      const { rows } = await check.query<{ owner: string; n: string }>(
        `SELECT tableowner AS owner, count(*) AS n FROM pg_tables WHERE schemaname = 'public' GROUP BY 1`,
      );
      expect(rows.map((r) => r.owner)).toEqual(['tessera_owner']);
      await check.end();
      await expect(problemsAs(upgraded.url)).resolves.toEqual([]);
      const runtime = await connect(upgraded.url);
      try {
        await expect(runtime.query('SELECT action FROM audit_events')).resolves.toMatchObject({
          rows: [{ action: 'legacy.kept' }],
        });
        await expect(
          runtime.query('ALTER TABLE audit_events DISABLE TRIGGER USER'),
        ).rejects.toThrow(/must be owner/);
        await expect(runtime.query('DELETE FROM audit_events')).rejects.toThrow(
          /permission denied/,
        );
      } finally {
        await runtime.end();
      }
      // The owner may create what a later migration would.
      const owner = await connect(upgraded.migrationUrl);
      await owner.query('CREATE TABLE later_feature (id int)');
      await owner.end();
    } finally {
      await upgraded.stop();
    }
  });
});
