import type { SequenceState } from 'src/platform/backup/catalog';

/** docs/adr/0009-backup-archive.md describes the format; bump the version on any incompatible change. */
export const ARCHIVE_FORMAT = 'tessera-backup';
export const ARCHIVE_FORMAT_VERSION = 1;
export const MANIFEST_ENTRY = 'manifest.json';

export interface TableEntry {
  readonly name: string;
  /** The tar entry holding the table's rows in COPY text format. */
  readonly file: string;
  readonly columns: readonly string[];
  readonly rows: number;
  readonly bytes: number;
  /** SHA-256 (hex) of the entry's bytes. */
  readonly sha256: string;
}

export interface BackupManifest {
  readonly format: typeof ARCHIVE_FORMAT;
  readonly formatVersion: number;
  readonly createdAt: string;
  readonly tesseraVersion: string;
  readonly postgresVersion: string;
  /** The latest applied migration: restore needs a Tessera whose migrations end at the same one. */
  readonly schemaVersion: string;
  readonly migrations: readonly string[];
  /** The audit chain head inside the snapshot: `audit:verify` on the restored database ends here. */
  readonly auditChainHead: { readonly sequence: number; readonly hash: string } | null;
  /** Tables in load order (parents first). */
  readonly tables: readonly TableEntry[];
  readonly sequences: readonly SequenceState[];
}

export class ArchiveError extends Error {}

export function dataEntryName(table: string): string {
  return `data/${table}.copy`;
}

/** Parses and checks the shape of a manifest read from an archive. */
export function parseManifest(text: string): BackupManifest {
  let value: Partial<BackupManifest>;
  try {
    value = JSON.parse(text) as Partial<BackupManifest>;
  } catch {
    throw new ArchiveError('manifest.json is not JSON');
  }
  if (value.format !== ARCHIVE_FORMAT) {
    throw new ArchiveError(
      'not a Tessera backup (manifest.json has no "format": "tessera-backup")',
    );
  }
  if (value.formatVersion !== ARCHIVE_FORMAT_VERSION) {
    throw new ArchiveError(
      `archive format version ${String(value.formatVersion)} is not supported (this Tessera reads ${ARCHIVE_FORMAT_VERSION})`,
    );
  }
  if (
    typeof value.schemaVersion !== 'string' ||
    !Array.isArray(value.migrations) ||
    !Array.isArray(value.tables) ||
    !Array.isArray(value.sequences) ||
    (value.tables as Partial<TableEntry>[]).some(
      (t) =>
        typeof t.name !== 'string' ||
        t.file !== dataEntryName(t.name ?? '') ||
        !Array.isArray(t.columns) ||
        !Number.isSafeInteger(t.rows) ||
        !Number.isSafeInteger(t.bytes) ||
        !/^[0-9a-f]{64}$/.test(t.sha256 ?? ''),
    )
  ) {
    throw new ArchiveError('manifest.json is incomplete or damaged');
  }
  return value as BackupManifest;
}
