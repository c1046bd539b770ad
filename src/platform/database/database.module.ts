import { Logger, Module } from '@nestjs/common';
import type { DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

import type { AppConfig } from 'src/config/app-config';
import { runtimeRoleProblems } from 'src/platform/database/database-roles';
import { dataSourceOptions, migrationDataSource } from 'src/platform/database/database-options';
import { migrateWithLock } from 'src/platform/database/migrator';
import { Transactions } from 'src/platform/database/transaction';

@Module({})
export class DatabaseModule {
  /**
   * `url` is the runtime role's: DATABASE_URL, or the embedded server's. Migrations run as
   * `config.database.migrationUrl`'s role when there is one, which then grants the runtime role its rows.
   */
  static forRoot(config: AppConfig, url: string): DynamicModule {
    const logger = new Logger('Database');
    return {
      module: DatabaseModule,
      // Global like the DataSource itself: every module's services open their transactions through it.
      global: true,
      providers: [Transactions],
      exports: [Transactions],
      imports: [
        TypeOrmModule.forRootAsync({
          useFactory: () => ({ ...dataSourceOptions(config, url), autoLoadEntities: true }),
          // Migrations run before any other module can touch the database.
          dataSourceFactory: async (options) => {
            const dataSource = await new DataSource(options!).initialize();
            try {
              if (config.database.migrateOnBoot) {
                await migrate(config, url, dataSource);
              }
              for (const problem of await runtimeRoleProblems(dataSource)) {
                logger.warn(problem);
              }
            } catch (error) {
              await dataSource.destroy();
              throw error;
            }
            return dataSource;
          },
        }),
      ],
    };
  }
}

async function migrate(config: AppConfig, url: string, runtime: DataSource): Promise<void> {
  const migrationUrl = config.database.migrationUrl;
  if (migrationUrl === undefined || migrationUrl === url) {
    await migrateWithLock(runtime);
    return;
  }
  const [{ role }] = await runtime.query<[{ role: string }]>('SELECT current_user AS role');
  const owner = await migrationDataSource(config, migrationUrl);
  try {
    await migrateWithLock(owner, role);
  } finally {
    await owner.destroy();
  }
}
