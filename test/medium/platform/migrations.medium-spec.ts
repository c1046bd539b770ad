import { readdirSync } from 'node:fs';
import { join } from 'node:path';

import { DataSource } from 'typeorm';

import { createApp } from 'src/app';
import { withMigrationUrl } from 'src/config/app-config';
import { dataSourceOptions } from 'src/platform/database/database-options';
import { runtimeRoleProblems } from 'src/platform/database/database-roles';
import { migrateWithLock, revertMigrations } from 'src/platform/database/migrator';
import { asRole, createTestDatabase } from 'test/support/test-database';
import { testConfig } from 'test/support/test-config';

const MIGRATION_FILES = readdirSync(join(__dirname, '..', '..', '..', 'migrations')).filter((f) =>
  f.endsWith('.ts'),
);

async function openDataSource(url: string): Promise<DataSource> {
  return new DataSource(dataSourceOptions(testConfig(), url)).initialize();
}

async function tables(dataSource: DataSource): Promise<string[]> {
  const rows = await dataSource.query<{ table_name: string }[]>(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
  );
  return rows.map((r) => r.table_name);
}

async function appliedMigrations(dataSource: DataSource): Promise<string[]> {
  const rows = await dataSource.query<{ name: string }[]>(
    `SELECT name FROM migrations ORDER BY id`,
  );
  return rows.map((r) => r.name);
}

describe('migrations', () => {
  it('every migration file follows <epoch-ms>-<kebab-description>.ts', () => {
    expect(MIGRATION_FILES.length).toBeGreaterThan(0);
    for (const file of MIGRATION_FILES) {
      expect(file).toMatch(/^\d{13}-[a-z0-9]+(-[a-z0-9]+)*\.ts$/);
    }
  });

  it('apply on an empty database, revert completely, and apply again', async () => {
    const dataSource = await openDataSource(
      asRole(await createTestDatabase({ empty: true }), 'owner'),
    );
    try {
      const applied = await migrateWithLock(dataSource);
      expect(applied).toHaveLength(MIGRATION_FILES.length);
      expect(await tables(dataSource)).toEqual(
        expect.arrayContaining(['migrations', 'outbox_events']),
      );

      expect(await revertMigrations(dataSource, Number.MAX_SAFE_INTEGER)).toBe(
        MIGRATION_FILES.length,
      );
      expect(await tables(dataSource)).toEqual(['migrations']);

      expect(await migrateWithLock(dataSource)).toHaveLength(MIGRATION_FILES.length);
      expect(await migrateWithLock(dataSource)).toHaveLength(0);
    } finally {
      await dataSource.destroy();
    }
  });

  it('use timestamptz for every timestamp and uuid for every id', async () => {
    const dataSource = await openDataSource(await createTestDatabase());
    try {
      const columns = await dataSource.query<
        { table_name: string; column_name: string; data_type: string }[]
      >(
        `SELECT table_name, column_name, data_type FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name <> 'migrations'`,
      );
      expect(columns.length).toBeGreaterThan(0);
      for (const column of columns) {
        expect(column.data_type).not.toBe('timestamp without time zone');
        if (column.column_name === 'id') {
          expect(`${column.table_name}.id ${column.data_type}`).toBe(
            `${column.table_name}.id uuid`,
          );
        }
      }
    } finally {
      await dataSource.destroy();
    }
  });

  it('run exactly once when several instances boot against one database at the same moment', async () => {
    const url = await createTestDatabase({ empty: true });
    // Each instance migrates as the owner and grants the runtime role, which its pool then uses.
    const config = withMigrationUrl(testConfig(), asRole(url, 'owner'));
    const apps = await Promise.all([
      createApp(config, url),
      createApp(config, url),
      createApp(config, url),
    ]);
    try {
      const dataSource = apps[0].get(DataSource);
      expect(await appliedMigrations(dataSource)).toHaveLength(MIGRATION_FILES.length);
      expect(new Set(await appliedMigrations(dataSource)).size).toBe(MIGRATION_FILES.length);
      const [{ role }] = await dataSource.query<[{ role: string }]>('SELECT current_user AS role');
      expect(role).toBe('tessera_app');
      await expect(runtimeRoleProblems(dataSource)).resolves.toEqual([]);
    } finally {
      await Promise.all(apps.map((app) => app.close()));
    }
  });

  it('are not run at boot when DATABASE_MIGRATE_ON_BOOT is false', async () => {
    const url = await createTestDatabase({ empty: true });
    const app = await createApp(testConfig({ DATABASE_MIGRATE_ON_BOOT: 'false' }), url);
    try {
      expect(await tables(app.get(DataSource))).toEqual([]);
    } finally {
      await app.close();
    }
  });
});
