import 'reflect-metadata';

import { Logger } from '@nestjs/common';

import { createApp } from 'src/app';
import { ConfigError, loadConfig } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';
import { startEmbeddedPostgres } from 'src/platform/database/embedded-postgres';
import type { EmbeddedDatabase } from 'src/platform/database/embedded-postgres';

const logger = new Logger('Tessera');

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  let embedded: EmbeddedDatabase | undefined;
  let databaseUrl = config.database.url;
  if (databaseUrl === undefined) {
    logger.log(`No DATABASE_URL: starting the embedded PostgreSQL in ${config.database.embedded.dir}`);
    embedded = await startEmbeddedPostgres({
      dir: config.database.embedded.dir,
      port: config.database.embedded.port,
      log: (message) => logger.debug(message, 'EmbeddedPostgres'),
    });
    databaseUrl = embedded.url;
  }

  try {
    const app = await createApp(config, databaseUrl);
    await app.listen({ host: config.http.host, port: config.http.port });
    logger.log(`Tessera listening on http://${config.http.host}:${config.http.port} (API reference at /docs)`);
    handleShutdown(config, async () => {
      await app.close();
    }, embedded);
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
}

function loadConfigOrExit(): AppConfig {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`Tessera cannot start. ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

/**
 * SIGTERM / Ctrl-C: stop accepting connections, let in-flight requests finish (bounded by
 * SHUTDOWN_TIMEOUT_MS), close the pool, then stop the embedded database. A second signal exits at once.
 */
function handleShutdown(config: AppConfig, closeApp: () => Promise<void>, embedded?: EmbeddedDatabase): void {
  let stopping = false;
  const stop = async (signal: NodeJS.Signals): Promise<void> => {
    if (stopping) {
      process.exit(1);
    }
    stopping = true;
    logger.log(`${signal} received: shutting down`);
    const deadline = new Promise<'timeout'>((resolve) =>
      setTimeout(() => resolve('timeout'), config.http.shutdownTimeoutMs).unref(),
    );
    const outcome = await Promise.race([closeApp().then(() => 'closed' as const), deadline]);
    if (outcome === 'timeout') {
      logger.warn(`In-flight requests did not finish within ${config.http.shutdownTimeoutMs} ms; exiting anyway`);
    }
    await embedded?.stop();
    logger.log('Shutdown complete');
    // embedded-postgres installs an exit hook that overrides process.exitCode: exit explicitly.
    process.exit(outcome === 'closed' ? 0 : 1);
  };
  process.on('SIGTERM', (signal) => void stop(signal));
  process.on('SIGINT', (signal) => void stop(signal));
}

main().catch((error: unknown) => {
  logger.error(error instanceof Error ? error.message : String(error), error instanceof Error ? error.stack : undefined);
  process.exit(1);
});
