import { chmodSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Client } from 'pg';
import { DataSource } from 'typeorm';

import {
  EMBEDDED_OWNER_ROLE,
  EMBEDDED_RUNTIME_ROLE,
  startEmbeddedPostgres,
  withDatabase,
} from 'src/platform/database/embedded-postgres';
import type { EmbeddedDatabase } from 'src/platform/database/embedded-postgres';
import { dataSourceOptions } from 'src/platform/database/database-options';
import { migrateWithLock } from 'src/platform/database/migrator';
import { createSoftHsmStore } from 'test/support/softhsm';
import { TEMPLATE_DATABASE } from 'test/support/test-database';
import { testConfig } from 'test/support/test-config';

declare global {
  var tesseraTestServer: EmbeddedDatabase | undefined;
}

/** One embedded PostgreSQL for the whole run, and a migrated template database every test file clones. */
export default async function globalSetup(): Promise<void> {
  const softHsmConf = createSoftHsmStore();
  if (softHsmConf !== undefined) {
    process.env.SOFTHSM2_CONF = softHsmConf;
  }

  const parent = mkdtempSync(join(tmpdir(), 'tessera-test-'));
  chmodSync(parent, 0o755); // as root, PostgreSQL runs as the `postgres` user and must enter it
  const dir = join(parent, 'pg');
  const server = await startEmbeddedPostgres({
    dir,
    port: await freePort(),
    log: () => undefined,
    durable: false,
  });
  globalThis.tesseraTestServer = server;
  process.env.TESSERA_TEST_SERVER_URL = server.superuserUrl;
  process.env.TESSERA_TEST_OWNER_URL = server.migrationUrl;
  process.env.TESSERA_TEST_RUNTIME_URL = server.url;

  const admin = new Client({ connectionString: server.superuserUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${TEMPLATE_DATABASE} OWNER ${EMBEDDED_OWNER_ROLE}`);
  await admin.end();

  // Migrated by the owner, which grants the runtime role its rows, as the server does at boot: test
  // databases cloned from it carry the same owners and grants, and the tests connect as the runtime role.
  const dataSource = await new DataSource(
    dataSourceOptions(testConfig(), withDatabase(server.migrationUrl, TEMPLATE_DATABASE)),
  ).initialize();
  await migrateWithLock(dataSource, EMBEDDED_RUNTIME_ROLE);
  await dataSource.destroy();
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        resolve(typeof address === 'object' && address !== null ? address.port : 0),
      );
    });
  });
}
