import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext } from '@nestjs/common';

import { AppModule } from 'src/app.module';
import type { AppConfig } from 'src/config/app-config';
import { DomainError } from 'src/platform/errors/domain-error';

/**
 * Runs a command-line task inside the application's modules (services, repositories, audit), without
 * HTTP and without background work (webhook deliveries, scheduled checkpoints: those belong to the
 * servers). A domain error is printed as `CODE: message` and exits 1; the context is always closed.
 */
export async function withAppContext(
  config: AppConfig,
  databaseUrl: string,
  task: (app: INestApplicationContext) => Promise<number>,
): Promise<number> {
  const app = await NestFactory.createApplicationContext(
    AppModule.register(
      {
        ...config,
        webhooks: { ...config.webhooks, dispatcherEnabled: false },
        signing: { ...config.signing, auditCheckpointMinutes: 0 },
      },
      databaseUrl,
    ),
    { logger: false },
  );
  try {
    return await task(app);
  } catch (error) {
    if (error instanceof DomainError) {
      process.stderr.write(`${error.code}: ${error.message}\n`);
      return 1;
    }
    throw error;
  } finally {
    await app.close();
  }
}
