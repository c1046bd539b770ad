// First: stops with a clear message on an unsupported Node, before any dependency loads.
import 'src/platform/runtime/supported-node';
import type { DataSource } from 'typeorm';

import { roleOf } from 'src/platform/database/database-roles';
import { migrationDataSource } from 'src/platform/database/database-options';
import { migrateWithLock, revertMigrations } from 'src/platform/database/migrator';
import { withDatabase } from 'src/cli/database-session';

const USAGE = 'usage: migrate run | revert [steps] | show';

/**
 * `npm run migration:run|revert|show`: the same advisory-locked migrator the server runs at boot, as the
 * owner role (DATABASE_MIGRATION_URL, or the embedded owner), which then grants the runtime role its rows.
 */
void withDatabase(async (config, databaseUrl) => {
  const migrationUrl = config.database.migrationUrl ?? databaseUrl;
  const runtimeRole = await roleOf(databaseUrl);
  const dataSource = await migrationDataSource(config, migrationUrl);
  try {
    return await run(dataSource, runtimeRole);
  } finally {
    await dataSource.destroy();
  }
});

async function run(dataSource: DataSource, runtimeRole: string): Promise<number> {
  const [command, stepsArg] = process.argv.slice(2);
  switch (command) {
    case 'run': {
      const applied = await migrateWithLock(dataSource, runtimeRole);
      process.stdout.write(
        applied.length === 0
          ? 'No pending migrations.\n'
          : applied.map((m) => `applied ${m.name}\n`).join(''),
      );
      return 0;
    }
    case 'revert': {
      const steps = stepsArg === undefined ? 1 : Number(stepsArg);
      if (!Number.isInteger(steps) || steps < 1) {
        process.stderr.write(`${USAGE}\n`);
        return 2;
      }
      const reverted = await revertMigrations(dataSource, steps);
      process.stdout.write(`Reverted ${reverted} migration(s).\n`);
      return 0;
    }
    case 'show': {
      const pending = await dataSource.showMigrations();
      const applied = await dataSource
        .query<{ name: string }[]>('SELECT name FROM migrations ORDER BY id')
        .catch(() => [] as { name: string }[]);
      process.stdout.write(applied.map((m) => `[X] ${m.name}\n`).join(''));
      process.stdout.write(
        pending ? 'There are pending migrations.\n' : 'No pending migrations.\n',
      );
      return 0;
    }
    default:
      process.stderr.write(`${USAGE}\n`);
      return 2;
  }
}
