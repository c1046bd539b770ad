/**
 * `npm run bench:backup [-- --licenses 100000 --no-fsync]`: seeds a database with N licenses (each with a
 * machine, spread over 1,000 customers), then times `backup` of it and `restore` of the archive into a
 * fresh cluster, as the CLIs run them. Two throwaway embedded PostgreSQL clusters; prints the figures.
 */
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';

import { Client } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { DataSource } from 'typeorm';

import { freePortFor } from './ports';
import { loadConfig } from 'src/config/app-config';
import { createBackup } from 'src/platform/backup/backup';
import { columnList, listTables, quote } from 'src/platform/backup/catalog';
import { formatBytes, Progress } from 'src/platform/backup/progress';
import { restoreBackup } from 'src/platform/backup/restore';
import { dataSourceOptions } from 'src/platform/database/database-options';
import { roleOf } from 'src/platform/database/database-roles';
import { startEmbeddedPostgres } from 'src/platform/database/embedded-postgres';
import { migrateWithLock, migrationNames } from 'src/platform/database/migrator';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      licenses: { type: 'string', default: '100000' },
      'no-fsync': { type: 'boolean', default: false },
    },
  });
  const licenses = Number(values.licenses);
  const durable = !values['no-fsync'];
  const work = mkdtempSync(join(tmpdir(), 'tessera-bench-backup-'));
  chmodSync(work, 0o755); // as root the embedded server runs as `postgres` and must enter it
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATA_DIR: join(work, 'data'),
  });
  const source = await startEmbeddedPostgres({
    dir: join(work, 'source'),
    port: await freePortFor(),
    log: () => undefined,
    durable,
  });
  const target = await startEmbeddedPostgres({
    dir: join(work, 'target'),
    port: await freePortFor(),
    log: () => undefined,
    durable,
  });
  try {
    // Migrations and the load are the owner role's work; backup runs as the runtime role, as the CLIs do.
    const migrator = await new DataSource(
      dataSourceOptions(config, source.migrationUrl),
    ).initialize();
    await migrateWithLock(migrator, await roleOf(source.url));
    const buildMigrations = migrationNames(migrator);
    await migrator.destroy();

    const seedStarted = Date.now();
    await seed(source.migrationUrl, licenses);
    process.stdout.write(
      `seeded ${licenses.toLocaleString('en-US')} licenses in ${((Date.now() - seedStarted) / 1000).toFixed(1)} s\n`,
    );

    const rawSeconds = await rawCopySeconds(source.url);
    const archive = join(work, 'tessera.tar.gz');
    const backup = await createBackup({
      databaseUrl: source.url,
      out: archive,
      progress: new Progress(process.stderr, 'backed up'),
    });
    const restore = await restoreBackup({
      databaseUrl: target.migrationUrl,
      file: archive,
      buildMigrations,
      migrate: async () => {
        const ds = await new DataSource(
          dataSourceOptions(config, target.migrationUrl),
        ).initialize();
        await migrateWithLock(ds, await roleOf(target.url));
        await ds.destroy();
      },
      progress: new Progress(process.stderr, 'restored'),
    });
    const restoredLicenses = await count(target.url, 'licenses');
    if (restoredLicenses !== licenses || restore.rows !== backup.rows) {
      throw new Error(
        `restored ${restoredLicenses} licenses / ${restore.rows} rows: expected ${licenses} / ${backup.rows}`,
      );
    }
    const result = {
      licenses,
      rows: backup.rows,
      tables: Object.fromEntries(
        backup.manifest.tables.filter((t) => t.rows > 0).map((t) => [t.name, t.rows]),
      ),
      uncompressedBytes: backup.manifest.tables.reduce((sum, t) => sum + t.bytes, 0),
      archiveBytes: statSync(archive).size,
      backupSeconds: backup.seconds,
      rawCopySeconds: rawSeconds,
      restoreSeconds: restore.seconds,
      fsync: durable,
    };
    process.stdout.write(
      [
        `rows:              ${result.rows.toLocaleString('en-US')} (${Object.entries(result.tables)
          .map(([t, n]) => `${t} ${n}`)
          .join(', ')})`,
        `table data:        ${formatBytes(result.uncompressedBytes)}; archive ${formatBytes(result.archiveBytes)}`,
        `backup:            ${result.backupSeconds.toFixed(2)} s (${Math.round(result.rows / result.backupSeconds).toLocaleString('en-US')} rows/s); ` +
          `raw COPY of the same tables to nowhere ${rawSeconds.toFixed(2)} s: backup = ${(result.backupSeconds / rawSeconds).toFixed(1)}x`,
        `restore:           ${result.restoreSeconds.toFixed(2)} s (${Math.round(result.rows / result.restoreSeconds).toLocaleString('en-US')} rows/s, migrations included)`,
        JSON.stringify(result),
        '',
      ].join('\n'),
    );
  } finally {
    await source.stop();
    await target.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

/** Rows as the API would leave them, inserted in bulk by SQL (the API would take minutes). */
async function seed(url: string, licenses: number): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query(`INSERT INTO products (name, code) VALUES ('Acme Pro', 'acme-pro')`);
    await client.query(
      `INSERT INTO policies (product_id, name, max_machines, duration_seconds)
       SELECT id, 'Annual seat', 3, 31536000 FROM products`,
    );
    await client.query(
      `INSERT INTO customers (name, email, metadata)
       SELECT 'Customer ' || i, 'billing' || i || '@customer.example', jsonb_build_object('crm', 'C-' || i)
         FROM generate_series(1, 1000) AS i`,
    );
    await client.query(
      `INSERT INTO licenses (policy_id, customer_id, key_hash, key_prefix, name, expires_at, metadata)
       SELECT p.id, c.ids[1 + i % 1000], encode(sha256(('key-' || i)::bytea), 'hex'),
              upper(substr(md5(i::text), 1, 5)), 'Seat ' || i, now() + interval '1 year',
              jsonb_build_object('order', 'SO-' || i)
         FROM generate_series(1, $1::int) AS i
         CROSS JOIN policies p
         CROSS JOIN (SELECT array_agg(id ORDER BY id) AS ids FROM customers) c`,
      [licenses],
    );
    await client.query(
      `INSERT INTO machines (license_id, fingerprint, platform, hostname, cores)
       SELECT id, encode(sha256(id::text::bytea), 'hex'), 'linux', 'host-' || left(id::text, 8), 8
         FROM licenses`,
    );
    await client.query('COMMIT');
    await client.query('ANALYZE');
  } finally {
    await client.end();
  }
}

/** The floor: every table copied out in one snapshot and thrown away (no files, hashing or gzip). */
async function rawCopySeconds(url: string): Promise<number> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const started = Date.now();
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    for (const table of await listTables(client)) {
      await pipeline(
        client.query(copyTo(`COPY ${quote(table.name)} (${columnList(table.columns)}) TO STDOUT`)),
        new Writable({ write: (_chunk, _encoding, callback) => callback() }),
      );
    }
    await client.query('COMMIT');
    return (Date.now() - started) / 1000;
  } finally {
    await client.end();
  }
}

async function count(url: string, table: string): Promise<number> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return Number(
      (await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table}`)).rows[0].n,
    );
  } finally {
    await client.end();
  }
}

main()
  .then(() => process.exit(0))
  .catch((error: unknown) => {
    process.stderr.write(
      `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  });
