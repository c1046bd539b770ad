import type { DataSource, Migration } from 'typeorm';

import { grantRuntimePrivileges } from 'src/platform/database/database-roles';

// Any constant works as long as every Tessera instance uses the same one: it names the lock. Also taken
// by the embedded server's role provisioning, which grants too (concurrent GRANTs on one object fail).
export const MIGRATION_LOCK_KEY = 7_342_001_001;

/**
 * Runs pending migrations while holding a PostgreSQL advisory lock, so that several instances booting at
 * once against one database run them exactly once: the others wait, then find nothing pending. With a
 * `runtimeRole` other than the one `dataSource` is connected as (the owner), that role is then granted
 * its privileges on the tables, under the same lock.
 */
export async function migrateWithLock(
  dataSource: DataSource,
  runtimeRole?: string,
): Promise<Migration[]> {
  return withMigrationLock(dataSource, async () => {
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    if (runtimeRole !== undefined) {
      const [{ role }] = await dataSource.query<[{ role: string }]>('SELECT current_user AS role');
      if (role !== runtimeRole) {
        // One transaction: the re-grant on every table and the revocations take effect together.
        await dataSource.transaction((tx) => grantRuntimePrivileges(tx, runtimeRole));
      }
    }
    return applied;
  });
}

/** Reverts the last `steps` applied migrations (each one in its own transaction), newest first. */
export async function revertMigrations(dataSource: DataSource, steps: number): Promise<number> {
  return withMigrationLock(dataSource, async () => {
    let reverted = 0;
    while (reverted < steps && (await appliedCount(dataSource)) > 0) {
      await dataSource.undoLastMigration({ transaction: 'each' });
      reverted += 1;
    }
    return reverted;
  });
}

async function appliedCount(dataSource: DataSource): Promise<number> {
  const table = dataSource.options.migrationsTableName ?? 'migrations';
  const exists = await dataSource.query<{ ok: boolean }[]>(
    `SELECT to_regclass($1) IS NOT NULL AS ok`,
    [table],
  );
  if (exists[0]?.ok !== true) {
    return 0;
  }
  const rows = await dataSource.query<{ n: string }[]>(`SELECT count(*) AS n FROM "${table}"`);
  return Number(rows[0]?.n ?? 0);
}

async function withMigrationLock<T>(dataSource: DataSource, work: () => Promise<T>): Promise<T> {
  // The lock belongs to one session: hold it on a dedicated connection for the whole run.
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      return await work();
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await runner.release();
  }
}

/** The migrations this build ships, oldest first, by the timestamp that ends each class name. */
export function migrationNames(dataSource: DataSource): string[] {
  const timestamp = (name: string): number => Number(/(\d{13})$/.exec(name)?.[1] ?? 0);
  return dataSource.migrations
    .map((migration) => migration.name ?? migration.constructor.name)
    .sort((a, b) => timestamp(a) - timestamp(b));
}
