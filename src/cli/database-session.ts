import pino from 'pino';

import { ConfigError, loadConfig, withMigrationUrl } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';
import { startEmbeddedPostgres } from 'src/platform/database/embedded-postgres';

/**
 * Runs a command-line task against the configured database: DATABASE_URL, or the embedded server (started
 * for the task and stopped after it, so the CLI works with nothing else running). Exits with its status.
 * `databaseUrl` is the runtime role's; `config.database.migrationUrl` the owner's, when there is one.
 */
export async function withDatabase(
  task: (config: AppConfig, databaseUrl: string) => Promise<number>,
): Promise<never> {
  let config: AppConfig;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const log = pino({ level: config.log.level });
  const embedded =
    config.database.url === undefined
      ? await startEmbeddedPostgres({
          dir: config.database.embedded.dir,
          port: config.database.embedded.port,
          log: (message) => log.debug(message),
          // Beside a running `npm start`, use its database rather than stopping it.
          shareRunning: true,
        })
      : undefined;
  let status = 1;
  try {
    const url = config.database.url ?? embedded!.url;
    status = await task(
      withMigrationUrl(config, config.database.migrationUrl ?? embedded?.migrationUrl),
      url,
    );
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  } finally {
    await embedded?.stop();
  }
  // embedded-postgres overrides process.exitCode on exit: exit explicitly.
  process.exit(status);
}
