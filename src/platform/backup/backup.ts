import { createHash } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdtempSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

import type { Client } from 'pg';
import { to as copyTo } from 'pg-copy-streams';

import {
  appliedMigrations,
  columnList,
  connect,
  listTables,
  quote,
  readSequences,
} from 'src/platform/backup/catalog';
import type { TableInfo } from 'src/platform/backup/catalog';
import {
  ARCHIVE_FORMAT,
  ARCHIVE_FORMAT_VERSION,
  ArchiveError,
  dataEntryName,
  MANIFEST_ENTRY,
} from 'src/platform/backup/manifest';
import type { BackupManifest, TableEntry } from 'src/platform/backup/manifest';
import type { Progress } from 'src/platform/backup/progress';
import { countRows } from 'src/platform/backup/progress';
import { TarWriter } from 'src/platform/backup/tar';
import { packageVersion } from 'src/platform/version';

export interface BackupOptions {
  readonly databaseUrl: string;
  readonly out: string;
  /** Replace an existing file at `out`. */
  readonly overwrite?: boolean;
  readonly progress?: Progress;
}

export interface BackupResult {
  readonly file: string;
  readonly manifest: BackupManifest;
  readonly rows: number;
  readonly bytes: number;
  /** SHA-256 of the archive file, to record beside it. */
  readonly sha256: string;
  readonly seconds: number;
}

/**
 * Writes one consistent archive of the whole database: every table is copied inside one REPEATABLE READ
 * read-only transaction, so the archive is the database as of one instant while writes go on (no lock
 * beyond what a SELECT takes). Works on the embedded server, which ships no pg_dump. Table data is
 * spooled to a private directory beside the output (tar needs each size up front), then the archive is
 * written to `<out>.partial` and renamed into place: a failed backup leaves no file that looks complete.
 */
export async function createBackup(options: BackupOptions): Promise<BackupResult> {
  const started = Date.now();
  const out = options.out;
  if (existsSync(out) && options.overwrite !== true) {
    throw new ArchiveError(`${out} exists: choose another file or pass --force`);
  }
  const spool = mkdtempSync(join(dirname(out), `.${basename(out)}.spool-`));
  const partial = `${out}.partial`;
  try {
    const manifest = await dumpSnapshot(options, spool);
    const archive = await writeArchive(manifest, spool, partial);
    renameSync(partial, out);
    return {
      file: out,
      manifest,
      rows: manifest.tables.reduce((sum, t) => sum + t.rows, 0),
      bytes: archive.bytes,
      sha256: archive.sha256,
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    rmSync(spool, { recursive: true, force: true });
    rmSync(partial, { force: true });
  }
}

async function dumpSnapshot(options: BackupOptions, spool: string): Promise<BackupManifest> {
  const client = await connect(options.databaseUrl, 'tessera-backup');
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    // The snapshot is taken by the first statement: everything below sees the same database.
    const migrations = await appliedMigrations(client);
    if (migrations === undefined || migrations.length === 0) {
      throw new ArchiveError('the database has no Tessera schema (no applied migrations)');
    }
    const server = await client.query<{ version: string }>(`SHOW server_version`);
    const tables = await listTables(client);
    const entries: TableEntry[] = [];
    for (const table of tables) {
      entries.push(await dumpTable(client, table, spool, options.progress));
    }
    const head = tables.some((t) => t.name === 'audit_chain_head')
      ? (
          await client.query<{ sequence: string; hash: string }>(
            `SELECT sequence::text AS sequence, hash FROM audit_chain_head`,
          )
        ).rows[0]
      : undefined;
    // Sequences are not transactional: read last, their values are at least those the snapshot used.
    const sequences = await readSequences(client);
    await client.query('COMMIT');
    return {
      format: ARCHIVE_FORMAT,
      formatVersion: ARCHIVE_FORMAT_VERSION,
      createdAt: new Date().toISOString(),
      tesseraVersion: packageVersion(),
      postgresVersion: server.rows[0].version,
      schemaVersion: migrations[migrations.length - 1],
      migrations,
      auditChainHead:
        head === undefined ? null : { sequence: Number(head.sequence), hash: head.hash },
      tables: entries,
      sequences,
    };
  } finally {
    await client.end();
  }
}

async function dumpTable(
  client: Client,
  table: TableInfo,
  spool: string,
  progress: Progress | undefined,
): Promise<TableEntry> {
  const started = Date.now();
  const file = join(spool, `${table.name}.copy`);
  const hash = createHash('sha256');
  let rows = 0;
  let bytes = 0;
  const measure = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      rows += countRows(chunk);
      bytes += chunk.length;
      progress?.update(table.name, rows, bytes);
      callback(null, chunk);
    },
  });
  await pipeline(
    client.query(copyTo(`COPY ${quote(table.name)} (${columnList(table.columns)}) TO STDOUT`)),
    measure,
    createWriteStream(file, { mode: 0o600 }),
  );
  progress?.done(table.name, rows, bytes, started);
  return {
    name: table.name,
    file: dataEntryName(table.name),
    columns: table.columns,
    rows,
    bytes,
    sha256: hash.digest('hex'),
  };
}

async function writeArchive(
  manifest: BackupManifest,
  spool: string,
  partial: string,
): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  const measure = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      bytes += chunk.length;
      callback(null, chunk);
    },
  });
  const gzip = createGzip({ level: 6 });
  const written = pipeline(gzip, measure, createWriteStream(partial, { mode: 0o600 }));
  written.catch(() => undefined); // awaited below; a failure also ends the writes waiting on it
  const tar = new TarWriter(gzip, written);
  await tar.file(MANIFEST_ENTRY, ...sized(Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`)));
  for (const table of manifest.tables) {
    await tar.file(
      table.file,
      table.bytes,
      createReadStream(join(spool, `${table.name}.copy`)) as AsyncIterable<Buffer>,
    );
  }
  await tar.finish();
  gzip.end();
  await written;
  return { bytes, sha256: hash.digest('hex') };
}

function sized(content: Buffer): [number, Buffer] {
  return [content.length, content];
}
