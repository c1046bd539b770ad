import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { finished, pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';

import type { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

import {
  appliedMigrations,
  columnList,
  connect,
  listTables,
  quote,
} from 'src/platform/backup/catalog';
import { ArchiveError, MANIFEST_ENTRY, parseManifest } from 'src/platform/backup/manifest';
import type { BackupManifest, TableEntry } from 'src/platform/backup/manifest';
import { countRows } from 'src/platform/backup/progress';
import type { Progress } from 'src/platform/backup/progress';
import { readTar } from 'src/platform/backup/tar';
import type { TarEntrySink } from 'src/platform/backup/tar';

/**
 * Rows the migrations themselves insert: the target counts as empty with them, and they are replaced by
 * the archive's. The audit chain head starts at sequence 0 (no event yet).
 */
const MIGRATION_SEED: Readonly<Record<string, string>> = { audit_chain_head: 'sequence = 0' };

export interface RestoreOptions {
  readonly databaseUrl: string;
  readonly file: string;
  /** The migrations of this Tessera build, oldest first: the archive's must be the same list. */
  readonly buildMigrations: readonly string[];
  /** Creates the schema in a database that has none (the same advisory-locked migrator as the server). */
  readonly migrate: () => Promise<void>;
  readonly progress?: Progress;
}

export interface RestoreResult {
  readonly manifest: BackupManifest;
  readonly rows: number;
  readonly seconds: number;
  readonly migrated: boolean;
}

/**
 * Restores an archive into an empty database. The archive is read twice: once to check every part
 * against the manifest's checksums before anything is touched, once to load. Loading is one transaction
 * (tables locked, the audit tables' append-only triggers switched off inside it and back on before the
 * commit), so a failure at any point leaves the database as it was: empty, at most migrated.
 */
export async function restoreBackup(options: RestoreOptions): Promise<RestoreResult> {
  const started = Date.now();
  const manifest = await verifyArchive(options.file);
  const expected = options.buildMigrations;
  if (!sameList(manifest.migrations, expected)) {
    throw new ArchiveError(
      `the archive's schema version is ${manifest.schemaVersion}, this Tessera's is ` +
        `${expected[expected.length - 1] ?? 'none'}: restore with the Tessera release that made the ` +
        'backup, then upgrade',
    );
  }

  const client = await connect(options.databaseUrl, 'tessera-restore');
  try {
    let applied = await appliedMigrations(client);
    let migrated = false;
    if (applied === undefined) {
      const tables = await listTables(client);
      if (tables.length > 0) {
        throw new ArchiveError(
          `the target database is not empty: it has tables (${tables.map((t) => t.name).join(', ')}) ` +
            'but no Tessera migrations',
        );
      }
      await options.migrate();
      migrated = true;
      applied = (await appliedMigrations(client)) ?? [];
    }
    if (!sameList(applied, manifest.migrations)) {
      throw new ArchiveError(
        `the target database is at schema version ${applied[applied.length - 1] ?? 'none'}, the ` +
          `archive at ${manifest.schemaVersion}: restore into a new, empty database`,
      );
    }
    await client.query('BEGIN');
    try {
      await load(client, manifest, options);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw explain(error);
    }
    return {
      manifest,
      rows: manifest.tables.reduce((sum, t) => sum + t.rows, 0),
      seconds: (Date.now() - started) / 1000,
      migrated,
    };
  } finally {
    await client.end();
  }
}

async function load(
  client: Client,
  manifest: BackupManifest,
  options: RestoreOptions,
): Promise<void> {
  // Nothing else may write while the database is filled (a Tessera started too early, a second restore).
  await client.query(`SET LOCAL lock_timeout = '10s'`);
  const tables = await listTables(client);
  checkSameTables(tables, manifest.tables);
  await client.query(
    `LOCK TABLE ${tables.map((t) => quote(t.name)).join(', ')} IN ACCESS EXCLUSIVE MODE`,
  );
  const occupied: string[] = [];
  for (const table of tables) {
    const seed = MIGRATION_SEED[table.name];
    const found = await client.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM ${quote(table.name)}${seed === undefined ? '' : ` WHERE NOT (${seed})`}`,
    );
    if (found.rows[0].n !== '0') {
      occupied.push(`${table.name} (${found.rows[0].n} rows)`);
    }
  }
  if (occupied.length > 0) {
    throw new ArchiveError(
      `the target database is not empty: ${occupied.join(', ')}. Restore into a new database, ` +
        'before any Tessera has started on it',
    );
  }

  // User triggers (append-only guards, notifications) stay off while rows are loaded, inside this
  // transaction only: foreign keys and checks (internal triggers, constraints) still hold every row.
  const triggers = await client.query<{ table: string; name: string }>(`
    SELECT c.relname AS table, t.tgname AS name
      FROM pg_trigger t
      JOIN pg_class c ON c.oid = t.tgrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = current_schema() AND NOT t.tgisinternal AND t.tgenabled <> 'D'
     ORDER BY 1, 2`);
  for (const trigger of triggers.rows) {
    await client.query(
      `ALTER TABLE ${quote(trigger.table)} DISABLE TRIGGER ${quote(trigger.name)}`,
    );
  }
  for (const [table, seed] of Object.entries(MIGRATION_SEED)) {
    if (tables.some((t) => t.name === table)) {
      await client.query(`DELETE FROM ${quote(table)} WHERE ${seed}`);
    }
  }

  const byFile = new Map(manifest.tables.map((t) => [t.file, t]));
  await readArchive(options.file, (name) => {
    const table = byFile.get(name);
    return table === undefined ? ignore() : copyInto(client, table, options.progress);
  });

  for (const sequence of manifest.sequences) {
    await client.query(`SELECT setval($1::regclass, $2::bigint, $3)`, [
      quote(sequence.name),
      sequence.value,
      sequence.isCalled,
    ]);
  }
  for (const trigger of triggers.rows) {
    await client.query(`ALTER TABLE ${quote(trigger.table)} ENABLE TRIGGER ${quote(trigger.name)}`);
  }
  if (manifest.auditChainHead !== null) {
    const head = await client.query<{ sequence: string; hash: string }>(
      `SELECT sequence::text AS sequence, hash FROM audit_chain_head`,
    );
    const row = head.rows[0];
    if (
      row === undefined ||
      Number(row.sequence) !== manifest.auditChainHead.sequence ||
      row.hash !== manifest.auditChainHead.hash
    ) {
      throw new ArchiveError('the restored audit chain head differs from the manifest');
    }
  }
}

function copyInto(client: Client, table: TableEntry, progress: Progress | undefined): TarEntrySink {
  const started = Date.now();
  const stream = client.query(
    copyFrom(`COPY ${quote(table.name)} (${columnList(table.columns)}) FROM STDIN`),
  );
  const failed = once(stream, 'error');
  let rows = 0;
  let bytes = 0;
  return {
    async write(chunk) {
      if (stream.errored !== null) {
        throw stream.errored; // the server refused a row: stop reading the rest of the entry
      }
      rows += countRows(chunk);
      bytes += chunk.length;
      progress?.update(table.name, rows, bytes);
      if (!stream.write(chunk)) {
        await Promise.race([once(stream, 'drain'), failed]);
      }
    },
    async end() {
      stream.end();
      await finished(stream);
      if (stream.rowCount !== table.rows) {
        throw new ArchiveError(
          `${table.name}: loaded ${stream.rowCount} rows, the manifest says ${table.rows}`,
        );
      }
      progress?.done(table.name, rows, bytes, started);
    },
  };
}

function ignore(): TarEntrySink {
  return { write: () => undefined, end: () => undefined };
}

/**
 * Pass one: the manifest comes first, then one entry per table in the manifest's order, each with the
 * size, row count and SHA-256 the manifest gives. Nothing else may be in the archive.
 */
export async function verifyArchive(file: string): Promise<BackupManifest> {
  let manifest: BackupManifest | undefined;
  let next = 0;
  await readArchive(file, (name, size) => {
    if (manifest === undefined) {
      if (name !== MANIFEST_ENTRY) {
        throw new ArchiveError(
          `not a Tessera backup: the first entry is ${name}, not ${MANIFEST_ENTRY}`,
        );
      }
      const chunks: Buffer[] = [];
      return {
        write: (chunk) => void chunks.push(chunk),
        end: () => {
          manifest = parseManifest(Buffer.concat(chunks).toString('utf8'));
        },
      };
    }
    const table = manifest.tables[next];
    if (table === undefined || table.file !== name) {
      throw new ArchiveError(`unexpected entry ${name} (expected ${table?.file ?? 'the end'})`);
    }
    next += 1;
    const hash = createHash('sha256');
    let rows = 0;
    return {
      write: (chunk) => {
        hash.update(chunk);
        rows += countRows(chunk);
      },
      end: () => {
        const sha256 = hash.digest('hex');
        if (size !== table.bytes || sha256 !== table.sha256 || rows !== table.rows) {
          throw new ArchiveError(
            `${name} does not match the manifest (checksum, size or row count): the archive is damaged`,
          );
        }
      },
    };
  });
  if (manifest === undefined) {
    throw new ArchiveError('the archive is empty');
  }
  if (next !== manifest.tables.length) {
    throw new ArchiveError(
      `the archive is incomplete: ${manifest.tables[next].file} and later entries are missing`,
    );
  }
  return manifest;
}

async function readArchive(
  file: string,
  onEntry: (name: string, size: number) => TarEntrySink | Promise<TarEntrySink>,
): Promise<void> {
  try {
    await pipeline(createReadStream(file), createGunzip(), (source: AsyncIterable<Buffer>) =>
      readTar(source, onEntry),
    );
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR') {
      throw new ArchiveError(`${file} is not a gzip-compressed Tessera backup, or it is damaged`);
    }
    if (code === 'ENOENT') {
      throw new ArchiveError(`${file} does not exist`);
    }
    throw error;
  }
}

function checkSameTables(
  tables: readonly { name: string; columns: readonly string[] }[],
  archived: readonly TableEntry[],
): void {
  const target = new Map(tables.map((t) => [t.name, t.columns]));
  const problems: string[] = [];
  for (const table of archived) {
    const columns = target.get(table.name);
    if (columns === undefined) {
      problems.push(`${table.name} is not in the target database`);
    } else if (!sameList(columns, table.columns)) {
      problems.push(`${table.name} has other columns in the target database`);
    }
  }
  const names = new Set(archived.map((t) => t.name));
  for (const table of tables) {
    if (!names.has(table.name)) {
      problems.push(`${table.name} is not in the archive`);
    }
  }
  if (problems.length > 0) {
    throw new ArchiveError(`the archive does not fit the target schema: ${problems.join('; ')}`);
  }
}

function explain(error: unknown): unknown {
  if ((error as { code?: string }).code === '42501') {
    return new ArchiveError(
      `${(error as Error).message}: restore must connect as the role that owns Tessera's tables ` +
        '(the one that runs the migrations)',
    );
  }
  return error;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}
