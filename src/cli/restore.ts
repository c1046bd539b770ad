import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { withDatabase } from 'src/cli/database-session';
import { Progress } from 'src/platform/backup/progress';
import { restoreBackup } from 'src/platform/backup/restore';
import { migrationDataSource } from 'src/platform/database/database-options';
import { roleOf } from 'src/platform/database/database-roles';
import { migrateWithLock, migrationNames } from 'src/platform/database/migrator';

const USAGE = `usage: npm run restore -- <file>
  Restores a backup archive into an empty database (DATABASE_URL, or the embedded server), creating the
  schema first if there is none. Connects as the role that owns the tables: DATABASE_MIGRATION_URL (or
  the embedded owner), else DATABASE_URL. Start Tessera afterwards.`;

/**
 * `npm run restore`: checks the archive (checksums, schema version), then loads it in one transaction.
 * Exits 0 when restored, 1 when refused or failed (nothing is left half-restored), 2 on bad arguments.
 */
void withDatabase(async (config, databaseUrl) => {
  let file: string;
  try {
    const { positionals } = parseArgs({ allowPositionals: true, options: {} });
    if (positionals.length !== 1) {
      throw new Error('one archive file is required');
    }
    file = resolve(positionals[0]);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  // Creating the schema and switching the audit triggers off inside the load are the owner's work; the
  // migration run then grants the runtime role (DATABASE_URL's) its rows, as at boot.
  const ownerUrl = config.database.migrationUrl ?? databaseUrl;
  const runtimeRole = await roleOf(databaseUrl);
  const dataSource = await migrationDataSource(config, ownerUrl);
  const progress = new Progress(process.stderr, 'restored');
  const result = await restoreBackup({
    databaseUrl: ownerUrl,
    file,
    buildMigrations: migrationNames(dataSource),
    migrate: async () => {
      await migrateWithLock(dataSource, runtimeRole);
    },
    progress,
  }).finally(() => dataSource.destroy());
  process.stdout.write(
    `${JSON.stringify({
      file,
      rows: result.rows,
      seconds: result.seconds,
      migrated: result.migrated,
      schemaVersion: result.manifest.schemaVersion,
      auditChainHead: result.manifest.auditChainHead,
      tables: Object.fromEntries(result.manifest.tables.map((t) => [t.name, t.rows])),
    })}\n`,
  );
  return 0;
});
