import { Module } from '@nestjs/common';
import type { DynamicModule, ForwardReference, Type } from '@nestjs/common';

type ModuleImport = Type | DynamicModule | Promise<DynamicModule> | ForwardReference;
import { APP_FILTER, APP_GUARD } from '@nestjs/core';

import type { AppConfig } from 'src/config/app-config';
import { ConfigModule } from 'src/config/config.module';
import { AccessGuard } from 'src/platform/auth/access.guard';
import { DatabaseModule } from 'src/platform/database/database.module';
import { ProblemFilter } from 'src/platform/errors/problem.filter';
import { HealthModule } from 'src/platform/health/health.module';
import { LoggingModule } from 'src/platform/logging/logging.module';
import { OutboxModule } from 'src/platform/outbox/outbox.module';

@Module({})
export class AppModule {
  /** `extraImports` lets the e2e tests mount probe controllers on the real application. */
  static register(
    config: AppConfig,
    databaseUrl: string,
    extraImports: ModuleImport[] = [],
  ): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggingModule,
        DatabaseModule.forRoot(config, databaseUrl),
        OutboxModule,
        HealthModule,
        ...extraImports,
      ],
      providers: [
        { provide: APP_GUARD, useClass: AccessGuard },
        { provide: APP_FILTER, useClass: ProblemFilter },
      ],
    };
  }
}
