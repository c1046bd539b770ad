import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { startEmbeddedPostgres } from 'src/platform/database/embedded-postgres';
import type { EmbeddedDatabase } from 'src/platform/database/embedded-postgres';
import { ProbeModule } from 'test/e2e/probe.module';
import { startTestApp } from 'test/e2e/test-app';
import { freePort } from 'test/support/global-setup';
import { waitForStatus } from 'test/support/server-process';

describe('readiness', () => {
  it('turns 503 NOT_READY when the database goes away and 200 again, by itself, when it returns', async () => {
    // A PostgreSQL of its own: stopping the shared one would break every other test file.
    const parent = mkdtempSync(join(tmpdir(), 'tessera-ready-'));
    chmodSync(parent, 0o755);
    const options = {
      dir: join(parent, 'pg'),
      port: await freePort(),
      log: () => undefined,
      durable: false,
    };
    let database: EmbeddedDatabase = await startEmbeddedPostgres(options);
    const t = await startTestApp({
      databaseUrl: database.url,
      migrationUrl: database.migrationUrl,
    });
    try {
      const ready = `${t.baseUrl}/health/ready`;
      await waitForStatus(ready, 200, 5_000);

      await database.stop();
      await waitForStatus(ready, 503, 10_000);
      const response = await fetch(ready);
      expect(response.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
      await expect(response.json()).resolves.toMatchObject({
        code: 'NOT_READY',
        checks: { database: { status: 'down' } },
      });
      expect((await fetch(`${t.baseUrl}/health/live`)).status).toBe(200);

      database = await startEmbeddedPostgres(options);
      await waitForStatus(ready, 200, 20_000);
    } finally {
      await t.close();
      await database.stop();
    }
  });
});

describe('graceful shutdown', () => {
  it('lets an in-flight request finish, then stops accepting connections', async () => {
    const t = await startTestApp({ imports: [ProbeModule] });
    const inFlight = fetch(`${t.baseUrl}/v1/probe/slow?ms=1500`);
    await new Promise((resolve) => setTimeout(resolve, 300));

    const closing = t.close();
    const response = await inFlight;
    expect(response.status).toBe(200);
    await expect(response.json()).resolves.toEqual({ slept: 1500 });
    await closing;

    await expect(fetch(`${t.baseUrl}/health/live`)).rejects.toThrow();
  });
});
