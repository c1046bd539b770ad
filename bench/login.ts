/**
 * `npm run bench:login [-- --seconds 10 --connections 10]`: POST /v1/auth/login through the whole app with
 * the right password, against a bare Fastify JSON route in the same run; then failed logins one at a time,
 * wrong password and unknown email interleaved, to compare their timing (an unknown email must not answer
 * faster: it verifies against a decoy hash). Runs on a throwaway embedded PostgreSQL. The load generator
 * (the autocannon CLI) runs in a child process, so it does not share an event loop with the server.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs, promisify } from 'node:util';

import fastify from 'fastify';

import { createApp } from 'src/app';
import { loadConfig, withMigrationUrl } from 'src/config/app-config';
import { AdminService } from 'src/modules/admins/admin.service';
import { systemActor } from 'src/platform/auth/actor';
import { Role } from 'src/platform/auth/roles';
import { startEmbeddedPostgres } from 'src/platform/database/embedded-postgres';

interface Row {
  readonly label: string;
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly note: string;
}

const EMAIL = 'bench-owner@example.com';
const PASSWORD = 'correct horse battery staple';
/** Per kind. Every failure counts toward that email's lockout, which the config caps at 100. */
const SAMPLES = 50;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '10' },
      connections: { type: 'string', default: '10' },
    },
  });
  const seconds = Number(values.seconds);
  const connections = Number(values.connections);

  const parent = mkdtempSync(join(tmpdir(), 'tessera-bench-login-'));
  chmodSync(parent, 0o755); // as root, PostgreSQL runs as `postgres` and must enter it
  const server = await startEmbeddedPostgres({
    dir: join(parent, 'pg'),
    port: await freePort(),
    log: () => undefined,
  });
  const bare = fastify();
  let app: Awaited<ReturnType<typeof createApp>> | undefined;
  try {
    const url = server.url;
    const config = loadConfig(
      {
        NODE_ENV: 'test',
        LOG_LEVEL: 'silent',
        DATA_DIR: parent,
        JWT_SECRET: randomUUID() + randomUUID(),
        ENCRYPTION_KEY: randomUUID() + randomUUID(),
        HASHING_KEY: randomUUID() + randomUUID(),
        // Measure the work, not the limiter: these are the highest values the config accepts.
        RATE_LIMIT_AUTH_PER_MINUTE: '1000000',
        RATE_LIMIT_ANONYMOUS_PER_MINUTE: '1000000',
        LOGIN_LOCKOUT_THRESHOLD: '100',
      },
      parent,
    );
    app = await createApp(withMigrationUrl(config, server.migrationUrl), url);
    await app.listen({ host: '127.0.0.1', port: 0 });
    const login = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}/v1/auth/login`;
    await app.get(AdminService).create(systemActor(), {
      email: EMAIL,
      name: 'Bench owner',
      password: PASSWORD,
      roles: [Role.Owner],
    });

    bare.post('/', () => ({ ok: true }));
    await bare.listen({ host: '127.0.0.1', port: 0 });
    const bareUrl = `http://127.0.0.1:${(bare.server.address() as AddressInfo).port}/`;

    process.stdout.write(
      `login bench: ${connections} connections, ${seconds} s per target, ` +
        `${SAMPLES} sequential failures of each kind, 127.0.0.1\n`,
    );
    const body = JSON.stringify({ email: EMAIL, password: PASSWORD });
    await load(bareUrl, body, connections, 2); // warm-up
    await load(login, body, connections, 2);
    const bareRow = await load(bareUrl, body, connections, seconds);
    const loginRow = await load(login, body, connections, seconds);
    const [wrong, unknown] = await failedLogins(login);

    const rows: Row[] = [
      { ...bareRow, label: 'bare Fastify POST' },
      { ...loginRow, label: 'POST /v1/auth/login (ok)' },
      wrong,
      unknown,
    ];
    process.stdout.write(
      `${'target'.padEnd(30)}${'req/s'.padStart(8)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}\n`,
    );
    for (const row of rows) {
      process.stdout.write(
        `${row.label.padEnd(30)}${row.rps.toFixed(row.rps < 100 ? 1 : 0).padStart(8)}` +
          `${row.p50.toFixed(1).padStart(9)}${row.p99.toFixed(1).padStart(9)}  ${row.note}\n`,
      );
    }
    process.stdout.write(
      `ratio login/bare: ${(loginRow.rps / bareRow.rps).toPrecision(2)} ` +
        `(bare is ${(bareRow.rps / loginRow.rps).toFixed(0)}x faster)\n` +
        `unknown email - wrong password, p50: ${(unknown.p50 - wrong.p50).toFixed(2)} ms ` +
        `(ratio ${(unknown.p50 / wrong.p50).toFixed(3)})\n`,
    );
  } finally {
    await app?.close();
    await bare.close();
    await server.stop();
    rmSync(parent, { recursive: true, force: true });
  }
}

/** The autocannon CLI in a child process, POSTing `body` as JSON. */
async function load(url: string, body: string, connections: number, seconds: number) {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      require.resolve('autocannon'),
      ...['--json', '--no-progress', '-c', String(connections), '-d', String(seconds)],
      ...['-m', 'POST', '-H', 'content-type=application/json', '-b', body, url],
    ],
    { maxBuffer: 16 << 20 },
  );
  const result = JSON.parse(stdout) as {
    requests: { average: number };
    latency: { p50: number; p99: number };
    non2xx: number;
    errors: number;
    timeouts: number;
  };
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    note: `(autocannon; non-2xx ${result.non2xx}, errors ${result.errors + result.timeouts})`,
  };
}

/** One failed login after another, alternating wrong password and unknown email so drift hits both. */
async function failedLogins(url: string): Promise<[Row, Row]> {
  const kinds = [
    { label: 'wrong password (sequential)', email: EMAIL },
    { label: 'unknown email (sequential)', email: 'nobody@example.com' },
  ];
  const latencies: number[][] = [[], []];
  for (let i = -2; i < SAMPLES; i += 1) {
    for (const [k, kind] of kinds.entries()) {
      const begun = performance.now();
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: kind.email, password: 'not the password at all' }),
      });
      await response.arrayBuffer();
      if (response.status !== 401) {
        throw new Error(`${kind.label}: expected 401, got ${response.status}`);
      }
      if (i >= 0) {
        latencies[k].push(performance.now() - begun); // the first two rounds warm up
      }
    }
  }
  return kinds.map((kind, k) => {
    const sorted = [...latencies[k]].sort((a, b) => a - b);
    const percentile = (p: number) =>
      sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
    return {
      label: kind.label,
      rps: 1000 / (sorted.reduce((sum, ms) => sum + ms, 0) / sorted.length),
      p50: percentile(50),
      p99: percentile(99),
      note: `(${SAMPLES} requests, one at a time)`,
    };
  }) as [Row, Row];
}

function freePort(): Promise<number> {
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

main().then(
  // embedded-postgres overrides process.exitCode on exit: exit explicitly.
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
