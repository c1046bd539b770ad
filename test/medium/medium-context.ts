import { Test } from '@nestjs/testing';
import type { DynamicModule, ForwardReference, Provider, Type } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import { DataSource } from 'typeorm';

import type { AppConfig } from 'src/config/app-config';
import { ConfigModule } from 'src/config/config.module';
import { AuditLinker } from 'src/modules/audit/audit-linker';
import { DatabaseModule } from 'src/platform/database/database.module';
import { OutboxModule } from 'src/platform/outbox/outbox.module';
import { createTestDatabase } from 'test/support/test-database';
import { testConfig } from 'test/support/test-config';

type ModuleImport = Type | DynamicModule | ForwardReference;

export interface MediumContext {
  readonly module: TestingModule;
  readonly dataSource: DataSource;
  readonly config: AppConfig;
  /** The file's database as the runtime role, which the context connects as (see `asRole`). */
  readonly databaseUrl: string;
  get<T>(token: Type<T> | string | symbol): T;
  /**
   * Links committed audit events into the chain, as every reader of the log does before it reads: call it
   * before reading audit_events by SQL (a mutation returns before its event is linked).
   */
  linkAudit(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Real modules on a database of their own (cloned from the migrated template): services, repositories and
 * PostgreSQL are real; `overrides` swap in fakes for what the test controls (a clock, a signer).
 */
export async function newMediumContext(options: {
  imports: ModuleImport[];
  providers?: Provider[];
  overrides?: Array<[token: Type | string | symbol, value: unknown]>;
  env?: Record<string, string>;
}): Promise<MediumContext> {
  const config = testConfig(options.env);
  const url = await createTestDatabase();
  let builder = Test.createTestingModule({
    imports: [
      ConfigModule.forRoot(config),
      DatabaseModule.forRoot(config, url),
      OutboxModule,
      ...options.imports,
    ],
    providers: options.providers ?? [],
  });
  for (const [token, value] of options.overrides ?? []) {
    builder = builder.overrideProvider(token).useValue(value);
  }
  const module = await builder.compile();
  await module.init();
  return {
    module,
    config,
    databaseUrl: url,
    dataSource: module.get(DataSource),
    get: <T>(token: Type<T> | string | symbol) => module.get<T>(token, { strict: false }),
    linkAudit: () => module.get(AuditLinker, { strict: false }).linkWaiting(),
    close: () => module.close(),
  };
}
