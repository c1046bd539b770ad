// First: stops with a clear message on an unsupported Node, before any dependency loads.
import 'src/platform/runtime/supported-node';
import 'reflect-metadata';

import pino from 'pino';

import { createApp } from 'src/app';
import { ConfigError, loadConfig, withMigrationUrl } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';
import { startEmbeddedPostgres } from 'src/platform/database/embedded-postgres';
import type { EmbeddedDatabase } from 'src/platform/database/embedded-postgres';
import { stopTracing } from 'src/platform/telemetry/tracing';

// Until Nest's logger exists (and after it is gone), main logs through pino directly, in the same JSON shape.
let logger = pino({ base: { context: 'Tessera' } });

async function main(): Promise<void> {
  let config = loadConfigOrExit();
  logger = pino({ level: config.log.level, base: { context: 'Tessera' } });
  let embedded: EmbeddedDatabase | undefined;
  let databaseUrl = config.database.url;
  if (databaseUrl === undefined) {
    logger.info(
      `No DATABASE_URL: starting the embedded PostgreSQL in ${config.database.embedded.dir}`,
    );
    embedded = await startEmbeddedPostgres({
      dir: config.database.embedded.dir,
      port: config.database.embedded.port,
      log: (message) => logger.debug({ component: 'EmbeddedPostgres' }, message),
      releaseSignals: true,
    });
    databaseUrl = embedded.url;
    // The server's pool connects as the runtime role; migrations run as the owner.
    config = withMigrationUrl(config, embedded.migrationUrl);
  }

  try {
    const app = await createApp(config, databaseUrl);
    await app.listen({ host: config.http.host, port: config.http.port });
    logger.info(
      `Tessera listening on ${config.http.tls === undefined ? 'http' : 'https'}://${config.http.host}:${config.http.port} (API reference at /docs)`,
    );
    handleShutdown(
      config,
      async () => {
        await app.close();
      },
      embedded,
    );
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
function handleShutdown(
  config: AppConfig,
  closeApp: () => Promise<void>,
  embedded?: EmbeddedDatabase,
): void {
  let stopping = false;
  const stop = async (signal: NodeJS.Signals): Promise<void> => {
    if (stopping) {
      process.exit(1);
    }
    stopping = true;
    logger.info(`${signal} received: shutting down`);
    const deadline = new Promise<'timeout'>((resolve) =>
      setTimeout(() => resolve('timeout'), config.http.shutdownTimeoutMs).unref(),
    );
    const outcome = await Promise.race([closeApp().then(() => 'closed' as const), deadline]);
    if (outcome === 'timeout') {
      logger.warn(
        `In-flight requests did not finish within ${config.http.shutdownTimeoutMs} ms; exiting anyway`,
      );
    }
    await embedded?.stop();
    await stopTracing();
    logger.info('Shutdown complete');
    // embedded-postgres installs an exit hook that overrides process.exitCode: exit explicitly.
    process.exit(outcome === 'closed' ? 0 : 1);
  };
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.on(signal, (received) => void stop(received));
  }
}

main().catch((error: unknown) => {
  logger.fatal({ err: error }, error instanceof Error ? error.message : String(error));
  process.exit(1);
});
