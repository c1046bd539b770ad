/**
 * For the TypeORM CLI only (`npm run migration:generate -- migrations/<epoch>-<name>`): it needs a
 * reachable database, so set DATABASE_URL, or have `npm start` running the embedded one.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { DataSource } from 'typeorm';

import { loadConfig } from 'src/config/app-config';
import { dataSourceOptions } from 'src/platform/database/database-options';

const config = loadConfig();

function embeddedUrl(): string {
  const credentials = JSON.parse(
    readFileSync(join(config.database.embedded.dir, 'tessera-credentials.json'), 'utf8'),
  ) as { user: string; password: string };
  return `postgres://${credentials.user}:${encodeURIComponent(credentials.password)}@127.0.0.1:${config.database.embedded.port}/postgres`;
}

export default new DataSource({
  ...dataSourceOptions(config, config.database.url ?? embeddedUrl()),
  entities: [join(__dirname, '..', '..', '**', '*.entity.js')],
});
