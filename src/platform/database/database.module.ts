import { Module } from '@nestjs/common';
import type { DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

import type { AppConfig } from 'src/config/app-config';
import { dataSourceOptions } from 'src/platform/database/database-options';
import { migrateWithLock } from 'src/platform/database/migrator';

@Module({})
export class DatabaseModule {
  /** `url` is DATABASE_URL, or the embedded server's when none is configured. */
  static forRoot(config: AppConfig, url: string): DynamicModule {
    return {
      module: DatabaseModule,
      imports: [
        TypeOrmModule.forRootAsync({
          useFactory: () => ({ ...dataSourceOptions(config, url), autoLoadEntities: true }),
          // Migrations run before any other module can touch the database.
          dataSourceFactory: async (options) => {
            const dataSource = await new DataSource(options!).initialize();
            if (config.database.migrateOnBoot) {
              await migrateWithLock(dataSource);
            }
            return dataSource;
          },
        }),
      ],
    };
  }
}
