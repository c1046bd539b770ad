/**
 * For the TypeORM CLI only (`npm run migration:generate -- migrations/<epoch>-<name>`): it needs a
 * reachable database, so set DATABASE_URL (and DATABASE_MIGRATION_URL), or have `npm start` running the
 * embedded one. It connects as the owner role, which migrations run as.
 */
import { join } from 'node:path';

import { DataSource } from 'typeorm';

import { loadConfig } from 'src/config/app-config';
import { dataSourceOptions } from 'src/platform/database/database-options';
import { embeddedDatabaseUrls } from 'src/platform/database/embedded-postgres';

const config = loadConfig();

const url =
  config.database.migrationUrl ??
  config.database.url ??
  embeddedDatabaseUrls(config.database.embedded.dir, config.database.embedded.port).migrationUrl;

export default new DataSource({
  ...dataSourceOptions(config, url),
  entities: [join(__dirname, '..', '..', '**', '*.entity.js')],
});
