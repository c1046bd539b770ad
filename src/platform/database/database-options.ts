import { join } from 'node:path';

import { DataSource } from 'typeorm';
import type { DataSourceOptions } from 'typeorm';

import type { AppConfig } from 'src/config/app-config';
import { SnakeNamingStrategy } from 'src/platform/database/naming-strategy';

// Compiled: dist/src/platform/database -> dist/migrations; under ts (jest, ts-node): src/... -> migrations.
export const MIGRATIONS_GLOB = join(__dirname, '..', '..', '..', 'migrations', '*.{js,ts}');

/** Connection settings shared by the server, the CLIs and the tests. `synchronize` is never on. */
export function dataSourceOptions(config: AppConfig, url: string): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    namingStrategy: new SnakeNamingStrategy(),
    synchronize: false,
    migrationsRun: false,
    migrations: [MIGRATIONS_GLOB],
    migrationsTableName: 'migrations',
    // The pool: size, connect timeout, and a statement timeout set on every connection.
    poolSize: config.database.poolSize,
    connectTimeoutMS: config.database.connectTimeoutMs,
    extra: {
      statement_timeout: config.database.statementTimeoutMs,
      idle_in_transaction_session_timeout: Math.max(config.database.statementTimeoutMs, 60_000),
      application_name: 'tessera',
    },
  };
}

/** A connection as the owner role (`url`), for running migrations: one connection holds the lock, one migrates. */
export function migrationDataSource(config: AppConfig, url: string): Promise<DataSource> {
  return new DataSource({
    ...dataSourceOptions(config, url),
    poolSize: 2,
  } as DataSourceOptions).initialize();
}
