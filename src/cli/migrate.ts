// First: stops with a clear message on an unsupported Node, before any dependency loads.
import 'src/platform/runtime/supported-node';
import { migrateWithLock, revertMigrations } from 'src/platform/database/migrator';
import { withDatabase } from 'src/cli/database-session';

const USAGE = 'usage: migrate run | revert [steps] | show';

/** `npm run migration:run|revert|show`: the same advisory-locked migrator the server runs at boot. */
void withDatabase(async (dataSource) => {
  const [command, stepsArg] = process.argv.slice(2);
  switch (command) {
    case 'run': {
      const applied = await migrateWithLock(dataSource);
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
});
