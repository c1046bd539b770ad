import type { NestFastifyApplication } from '@nestjs/platform-fastify';

import { createApp } from 'src/app';
import { withMigrationUrl } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';
import { createTestDatabase } from 'test/support/test-database';
import { testConfig } from 'test/support/test-config';

export interface TestApp {
  readonly app: NestFastifyApplication;
  readonly config: AppConfig;
  readonly databaseUrl: string;
  /** http://127.0.0.1:<port> of the listening server. */
  readonly baseUrl: string;
  close(): Promise<void>;
}

export interface TestAppOptions {
  env?: Record<string, string>;
  imports?: Parameters<typeof createApp>[2];
  databaseUrl?: string;
  /** Migrations at boot as this URL's role (the owner) instead of the runtime role's. */
  migrationUrl?: string;
}

/** The real application on its own database, listening on a free loopback port. */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const base = testConfig(options.env);
  const config =
    options.migrationUrl === undefined ? base : withMigrationUrl(base, options.migrationUrl);
  const databaseUrl = options.databaseUrl ?? (await createTestDatabase());
  const app = await createApp(config, databaseUrl, options.imports);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    app,
    config,
    databaseUrl,
    baseUrl: `http://127.0.0.1:${port}`,
    close: () => app.close(),
  };
}
