import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Client } from 'pg';

import { freePort } from 'test/support/global-setup';
import { spawnServer, waitForStatus } from 'test/support/server-process';
import type { ServerProcess } from 'test/support/server-process';
import { TEST_SECRETS } from 'test/support/test-config';
import { asRole, createTestDatabase, queryAs } from 'test/support/test-database';

/** The server as `npm start` runs it: a separate process, configured by its environment alone. */
describe('the server process', () => {
  const running: ServerProcess[] = [];
  afterEach(() => {
    for (const server of running.splice(0)) {
      server.child.kill('SIGKILL');
    }
  });

  function worldTraversableTempDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-proc-'));
    chmodSync(dir, 0o755); // as root, the embedded PostgreSQL runs as `postgres` and must enter it
    return dir;
  }

  it('refuses a bad configuration within seconds, naming every bad variable and printing no stack', async () => {
    const started = Date.now();
    const server = spawnServer({
      DATABASE_URL: 'not a url',
      JWT_SECRET: 'ten-bytes!',
      PORT: '99999',
    });
    running.push(server);
    expect(await server.exited).toBe(1);
    expect(Date.now() - started).toBeLessThan(10_000);
    const output = server.output();
    expect(output).toContain('DATABASE_URL: must be a postgres:// or postgresql:// URL');
    expect(output).toContain('JWT_SECRET: must be at least 32 bytes (got 10)');
    expect(output).toContain('PORT: "99999" is not a whole number from 0 to 65535');
    expect(output).not.toMatch(/\n\s+at /);
  });

  it('with no DATABASE_URL, serves on an embedded PostgreSQL whose data survives a restart', async () => {
    const dataDir = worldTraversableTempDir();
    const port = await freePort();
    const env = {
      DATA_DIR: dataDir,
      PORT: String(port),
      EMBEDDED_PG_PORT: String(await freePort()),
      LOG_LEVEL: 'info',
    };
    const ready = `http://127.0.0.1:${port}/health/ready`;

    const first = spawnServer(env);
    running.push(first);
    await waitForStatus(ready, 200, 60_000);

    const credentials = JSON.parse(
      readFileSync(join(dataDir, 'postgres', 'tessera-credentials.json'), 'utf8'),
    ) as {
      database: string;
      runtime: { user: string; password: string };
    };
    // As the server's own role: the runtime role, on Tessera's database.
    const connect = async (): Promise<Client> => {
      const client = new Client({
        host: '127.0.0.1',
        port: Number(env.EMBEDDED_PG_PORT),
        user: credentials.runtime.user,
        password: credentials.runtime.password,
        database: credentials.database,
      });
      await client.connect();
      return client;
    };
    const writer = await connect();
    const session = await writer.query<{ role: string; superuser: boolean }>(
      `SELECT current_user AS role, rolsuper AS superuser FROM pg_roles WHERE rolname = current_user`,
    );
    expect(session.rows).toEqual([{ role: 'tessera_app', superuser: false }]);
    expect(first.output()).not.toContain('the server connects as');
    await writer.query(
      `INSERT INTO outbox_events (type, aggregate_type, aggregate_id, sequence, data)
       VALUES ('probe.written', 'probe', gen_random_uuid(), 1, '{"kept": true}')`,
    );
    await writer.end();

    // A CLI run beside the live server uses its database instead of stopping it.
    const cli = spawnSync(process.execPath, ['dist/src/cli/migrate.js', 'show'], {
      env: { PATH: process.env.PATH, ...env, LOG_LEVEL: 'silent' },
      encoding: 'utf8',
    });
    expect(cli.status).toBe(0);
    expect(cli.stdout).toContain('No pending migrations.');
    await waitForStatus(ready, 200, 5_000);

    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(first.output()).toContain('Shutdown complete');

    const second = spawnServer(env);
    running.push(second);
    await waitForStatus(ready, 200, 60_000);
    const reader = await connect();
    const rows = await reader.query(`SELECT data FROM outbox_events WHERE type = 'probe.written'`);
    await reader.end();
    expect(rows.rows).toEqual([{ data: { kept: true } }]);

    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });

  it('restarts cleanly after being killed, shutting down the embedded server it left behind', async () => {
    const dataDir = worldTraversableTempDir();
    const port = await freePort();
    const env = {
      DATA_DIR: dataDir,
      PORT: String(port),
      EMBEDDED_PG_PORT: String(await freePort()),
    };
    const ready = `http://127.0.0.1:${port}/health/ready`;

    const killed = spawnServer(env);
    running.push(killed);
    await waitForStatus(ready, 200, 60_000);
    killed.child.kill('SIGKILL');
    await killed.exited;

    const restarted = spawnServer(env);
    running.push(restarted);
    await waitForStatus(ready, 200, 60_000);
    restarted.child.kill('SIGTERM');
    expect(await restarted.exited).toBe(0);
  });

  describe('with your own PostgreSQL', () => {
    async function boot(env: Record<string, string>): Promise<string> {
      const port = await freePort();
      const server = spawnServer({
        ...TEST_SECRETS,
        PORT: String(port),
        LOG_LEVEL: 'info',
        DATA_DIR: worldTraversableTempDir(),
        ...env,
      });
      running.push(server);
      await waitForStatus(`http://127.0.0.1:${port}/health/ready`, 200, 30_000);
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
      return server.output();
    }

    const warnings = (output: string): string[] =>
      output
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { level: number; msg: string })
        .filter((line) => line.level === 40 && line.msg.includes('the server connects as'))
        .map((line) => line.msg);

    it('warns at boot when DATABASE_URL is a superuser', async () => {
      const output = await boot({ DATABASE_URL: asRole(await createTestDatabase(), 'superuser') });
      expect(warnings(output)).toEqual([
        expect.stringMatching(
          /^The database role "\w+" the server connects as \(DATABASE_URL\) is a superuser/,
        ),
      ]);
    });

    it('warns at boot when DATABASE_URL owns the tables', async () => {
      const output = await boot({ DATABASE_URL: asRole(await createTestDatabase(), 'owner') });
      expect(warnings(output)).toEqual([
        expect.stringContaining('"tessera_owner" the server connects as (DATABASE_URL) owns'),
      ]);
    });

    it('migrates an empty database as DATABASE_MIGRATION_URL and serves as DATABASE_URL, without a warning', async () => {
      const url = await createTestDatabase({ empty: true });
      const output = await boot({
        DATABASE_URL: url,
        DATABASE_MIGRATION_URL: asRole(url, 'owner'),
      });
      expect(warnings(output)).toEqual([]);
      const [owners] = await queryAs(url, 'runtime', [
        [`SELECT DISTINCT tableowner AS owner FROM pg_tables WHERE schemaname = 'public'`],
      ]);
      expect(owners).toEqual([{ owner: 'tessera_owner' }]);
    });
  });

  it('logs JSON lines with a request id and never logs the Authorization header', async () => {
    const port = await freePort();
    const server = spawnServer({
      ...TEST_SECRETS,
      DATABASE_URL: await createTestDatabase(),
      PORT: String(port),
      LOG_LEVEL: 'info',
      DATA_DIR: worldTraversableTempDir(),
    });
    running.push(server);
    await waitForStatus(`http://127.0.0.1:${port}/health/ready`, 200, 30_000);
    await fetch(`http://127.0.0.1:${port}/v1/nothing?key=LIC-SECRET`, {
      headers: { authorization: 'Bearer tsk_live_supersecret', 'x-request-id': 'trace-me-1' },
    });
    await fetch(`http://127.0.0.1:${port}/v1/licenses/actions/validate-key`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key: 'AAAAA-BBBBB' }),
    });
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);

    // The validation hot path writes no access line; other requests do.
    expect(server.output()).not.toContain('validate-key');
    const lines = server
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const requestLine = lines.find((line) => line.requestId === 'trace-me-1');
    expect(requestLine).toMatchObject({ msg: 'request completed', res: { statusCode: 404 } });
    expect(server.output()).not.toContain('supersecret');
    expect(server.output()).not.toContain('LIC-SECRET');
  });
});
