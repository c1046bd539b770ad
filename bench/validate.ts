/**
 * `npm run bench:validate [-- --seconds 10 --connections 50 --licenses 10000 --hsm --algorithm ES256]`:
 * license validation through the whole app (answers signed), against (a) a bare Fastify JSON route and
 * (b) a minimal reference route doing the same license lookup with one raw prepared pg query and no
 * framework, all measured in one run on 127.0.0.1. The load generator runs in its own process
 * (bench/load.ts). `--hsm` signs in a throwaway SoftHSM2 token instead of the software signer.
 *
 * `--metrics [--rounds 3]`: the same route on two instances of the app over one database, one with
 * metrics off and one with metrics on (and scraped every second, 15x Prometheus's default pace), loaded in
 * rounds of one run each, in ABBA order (off-on, on-off, ...) so that order and drift of the machine favour
 * neither; prints each round's on/off ratio and their median (target >= 0.95).
 *
 * `--tracking [--rounds 3]`: the same, validation counting for the reports (REPORTS_TRACK_VALIDATIONS)
 * off against on (target >= 0.95).
 */
import { createHmac, randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import fastify from 'fastify';
import { Pool } from 'pg';
import { Counter, Histogram, Registry } from 'prom-client';

import { createApp } from 'src/app';
import { loadConfig, withMigrationUrl } from 'src/config/app-config';
import { normaliseLicenseKey } from 'src/modules/licenses/license-key';
import { VALIDATION_QUERY } from 'src/modules/licenses/validation.repository';
import { LICENSE_KEY_PURPOSE } from 'src/modules/licenses/license.service';
import { KeyedHash } from 'src/platform/crypto/keyed-hash';
import { startEmbeddedPostgres } from 'src/platform/database/embedded-postgres';
import { LATENCY_BUCKETS } from 'src/platform/metrics/metrics';
import { MetricsServer } from 'src/platform/metrics/metrics.server';
import { freePortFor } from './ports';
import { softHsmToken } from './softhsm';
import { load, seed } from './validation-load';
import type { Load } from './validation-load';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '10' },
      connections: { type: 'string', default: '50' },
      licenses: { type: 'string', default: '10000' },
      // For profiling: measure only Tessera's route.
      'only-validate': { type: 'boolean', default: false },
      // Sign the answers in a SoftHSM2 token (PKCS#11) instead of the software signer.
      hsm: { type: 'boolean', default: false },
      // Algorithm of the license key that signs the answers: EdDSA (default) or ES256.
      algorithm: { type: 'string', default: 'EdDSA' },
      // Metrics on vs off, in alternating rounds.
      metrics: { type: 'boolean', default: false },
      // Validation counting for the reports on vs off, in alternating rounds.
      tracking: { type: 'boolean', default: false },
      rounds: { type: 'string', default: '3' },
    },
  });
  const seconds = Number(values.seconds);
  const connections = Number(values.connections);
  const licenseCount = Number(values.licenses);

  const parent = mkdtempSync(join(tmpdir(), 'tessera-bench-validate-'));
  chmodSync(parent, 0o755); // as root, PostgreSQL runs as `postgres` and must enter it
  const database = await startEmbeddedPostgres({
    dir: join(parent, 'pg'),
    port: await freePortFor(),
    log: () => undefined,
  });
  const token = values.hsm ? softHsmToken(parent) : undefined;
  const env = {
    ...(token === undefined
      ? {}
      : {
          PKCS11_MODULE: token.modulePath,
          PKCS11_TOKEN_LABEL: token.label,
          PKCS11_PIN: token.pin,
        }),
    SIGNING_ALGORITHM: values.algorithm,
    NODE_ENV: 'production',
    // Plain HTTP on loopback stands for the hop behind a TLS-terminating proxy, as in most deployments.
    TLS_TERMINATED_BY_PROXY: 'true',
    LOG_LEVEL: 'silent',
    DATA_DIR: parent,
    JWT_SECRET: randomUUID() + randomUUID(),
    ENCRYPTION_KEY: randomUUID() + randomUUID(),
    HASHING_KEY: randomUUID() + randomUUID(),
    RATE_LIMIT_VALIDATE_PER_MINUTE: '100000000',
    DATABASE_POOL_SIZE: '20',
  };
  const config = loadConfig(env, parent);
  const url = database.url;
  // Migrated by the embedded owner; served, seeded and measured as the runtime role.
  const app = await createApp(withMigrationUrl(config, database.migrationUrl), url);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const appPort = (app.getHttpServer().address() as AddressInfo).port;

  const keys = await seed(url, new KeyedHash(config.secrets.hashing), licenseCount);
  const bodiesFile = join(parent, 'bodies.json');
  writeFileSync(
    bodiesFile,
    JSON.stringify(keys.map((key) => JSON.stringify({ key, nonce: 'bench' }))),
  );

  const bare = fastify();
  bare.post('/bare', () => ({ valid: true }));
  await bare.listen({ host: '127.0.0.1', port: 0 });
  const barePort = (bare.server.address() as AddressInfo).port;

  const reference = referenceServer(url, config.secrets.hashing);
  await new Promise<void>((resolve) => reference.server.listen(0, '127.0.0.1', resolve));
  const referencePort = (reference.server.address() as AddressInfo).port;

  try {
    process.stdout.write(
      `validate bench: ${licenseCount} licenses, ${connections} connections, ${seconds} s per target, ` +
        `127.0.0.1, answers signed by the ${config.signing.backend} signer (${config.signing.algorithm})\n`,
    );
    await load(
      `http://127.0.0.1:${appPort}/v1/licenses/actions/validate-key`,
      connections,
      2,
      bodiesFile,
    ); // warm-up
    await load(`http://127.0.0.1:${referencePort}/validate`, connections, 2, bodiesFile);
    if (values.metrics) {
      await compareMetrics(
        env,
        parent,
        url,
        appPort,
        connections,
        seconds,
        Number(values.rounds),
        bodiesFile,
      );
      return;
    }
    if (values.tracking) {
      await compareTracking(
        env,
        parent,
        url,
        appPort,
        barePort,
        connections,
        seconds,
        Number(values.rounds),
        bodiesFile,
      );
      return;
    }
    if (values['only-validate']) {
      const only = await load(
        `http://127.0.0.1:${appPort}/v1/licenses/actions/validate-key`,
        connections,
        seconds,
        bodiesFile,
      );
      process.stdout.write(
        `Tessera validate-key ${only.rps.toFixed(0)} req/s p50 ${only.p50} ms p99 ${only.p99} ms\n`,
      );
      return;
    }
    const results: Array<[string, Load]> = [
      [
        'bare Fastify route',
        await load(`http://127.0.0.1:${barePort}/bare`, connections, seconds, bodiesFile),
      ],
      [
        'raw pg reference',
        await load(`http://127.0.0.1:${referencePort}/validate`, connections, seconds, bodiesFile),
      ],
      [
        'Tessera validate-key',
        await load(
          `http://127.0.0.1:${appPort}/v1/licenses/actions/validate-key`,
          connections,
          seconds,
          bodiesFile,
        ),
      ],
    ];
    for (const [label, r] of results) {
      process.stdout.write(
        `${label.padEnd(22)} ${r.rps.toFixed(0).padStart(7)} req/s  p50 ${r.p50} ms  p99 ${r.p99} ms  ` +
          `(non-2xx ${r.non2xx}, errors ${r.errors})\n`,
      );
    }
    const [bareRps, referenceRps, validateRps] = results.map(([, r]) => r.rps);
    process.stdout.write(
      `ratio validate/raw reference: ${(validateRps / referenceRps).toFixed(2)} (target >= 0.80)\n` +
        `ratio validate/bare Fastify:  ${(validateRps / bareRps).toFixed(2)} (target >= 0.15)\n` +
        `validate p99: ${results[2][1].p99} ms (target <= 50 ms)\n`,
    );
  } finally {
    await app.close();
    await bare.close();
    await reference.pool.end();
    reference.server.close();
    await database.stop();
    rmSync(parent, { recursive: true, force: true });
  }
  process.exit(0);
}

type MeasuredLoad = Load & { cpuUs: number };

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * One instance with a feature off against one with it on, loaded in rounds of one run each, in ABBA
 * order (off-on, on-off, ...) so that order and drift of the machine favour neither. Throughput swings
 * with whatever else runs on the machine; the server's CPU time per request (this process hosts both
 * apps, the idle one costs next to nothing) is what the feature adds, and is much steadier.
 */
async function alternateRounds(options: {
  name: string;
  offPort: number;
  onPort: number;
  connections: number;
  seconds: number;
  rounds: number;
  bodiesFile: string;
  /** Started before each run of the on instance; returns its stop. */
  whileOn?: () => () => void;
}): Promise<{
  off: MeasuredLoad[];
  on: MeasuredLoad[];
  pairRatios: number[];
  cpuRatios: number[];
}> {
  const target = (port: number) => `http://127.0.0.1:${port}/v1/licenses/actions/validate-key`;
  const off: MeasuredLoad[] = [];
  const on: MeasuredLoad[] = [];
  const pairRatios: number[] = [];
  const cpuRatios: number[] = [];
  const measured = async (port: number): Promise<MeasuredLoad> => {
    const cpu = process.cpuUsage();
    const result = await load(
      target(port),
      options.connections,
      options.seconds,
      options.bodiesFile,
    );
    const used = process.cpuUsage(cpu);
    return { ...result, cpuUs: (used.user + used.system) / Math.max(1, result.total) };
  };
  const measureOn = async () => {
    const stop = options.whileOn?.() ?? (() => undefined);
    try {
      on.push(await measured(options.onPort));
    } finally {
      stop();
    }
  };
  const measureOff = async () => {
    off.push(await measured(options.offPort));
  };
  for (let round = 1; round <= options.rounds; round += 1) {
    for (const measure of round % 2 === 1 ? [measureOff, measureOn] : [measureOn, measureOff]) {
      await measure();
    }
    const [a, b] = [off[off.length - 1], on[on.length - 1]];
    pairRatios.push(b.rps / a.rps);
    cpuRatios.push(a.cpuUs / b.cpuUs);
    process.stdout.write(
      `round ${round} (${round % 2 === 1 ? 'off, on' : 'on, off'}): ` +
        `${options.name} off ${a.rps.toFixed(0).padStart(6)} req/s p50 ${a.p50} ms p99 ${a.p99} ms | ` +
        `on ${b.rps.toFixed(0).padStart(6)} req/s p50 ${b.p50} ms p99 ${b.p99} ms | ` +
        `on/off ${(b.rps / a.rps).toFixed(3)}; server CPU per request off ${a.cpuUs.toFixed(0)} µs, ` +
        `on ${b.cpuUs.toFixed(0)} µs (non-2xx ${a.non2xx + b.non2xx}, errors ${a.errors + b.errors})\n`,
    );
  }
  return { off, on, pairRatios, cpuRatios };
}

/**
 * Validation counting off (a second app on the same database, REPORTS_TRACK_VALIDATIONS=false) against
 * on (the app already listening on `onPort`: counts per bucket and code, raw rows, flushed every 5 s and
 * folded every second), in alternating rounds, with the bare Fastify route measured in the same run.
 */
async function compareTracking(
  env: Record<string, string>,
  parent: string,
  url: string,
  onPort: number,
  barePort: number,
  connections: number,
  seconds: number,
  rounds: number,
  bodiesFile: string,
): Promise<void> {
  const offApp = await createApp(
    loadConfig({ ...env, REPORTS_TRACK_VALIDATIONS: 'false' }, parent),
    url,
  );
  await offApp.listen({ host: '127.0.0.1', port: 0 });
  const offPort = (offApp.getHttpServer().address() as AddressInfo).port;
  const pool = new Pool({ connectionString: url });
  try {
    await load(
      `http://127.0.0.1:${offPort}/v1/licenses/actions/validate-key`,
      connections,
      2,
      bodiesFile,
    );
    const bare = await load(`http://127.0.0.1:${barePort}/bare`, connections, seconds, bodiesFile);
    const { off, on, pairRatios, cpuRatios } = await alternateRounds({
      name: 'counting',
      offPort,
      onPort,
      connections,
      seconds,
      rounds,
      bodiesFile,
    });
    const rps = (loads: Load[]) => median(loads.map((l) => l.rps));
    const [{ raw, rollups }] = (
      await pool.query<{ raw: number; rollups: string }>(
        `SELECT (SELECT count(*)::int FROM validation_events) AS raw,
                (SELECT coalesce(sum(count), 0) FROM usage_rollups
                 WHERE metric = 'validation' AND scope_id = '00000000-0000-0000-0000-000000000000') AS rollups`,
      )
    ).rows;
    process.stdout.write(
      `bare Fastify route ${bare.rps.toFixed(0)} req/s; median counting off ${rps(off).toFixed(0)} req/s, ` +
        `on ${rps(on).toFixed(0)} req/s (ratio to bare: off ${(rps(off) / bare.rps).toFixed(3)}, on ${(rps(on) / bare.rps).toFixed(3)})\n` +
        `validations counted so far: ${raw} raw rows, ${rollups} in rollups (the rest still in memory or unfolded)\n` +
        `ratio counting on/off: ${median(pairRatios).toFixed(3)} (median of the rounds' ratios; ` +
        `ratio of the medians ${(rps(on) / rps(off)).toFixed(3)}; target >= 0.95)\n` +
        `server CPU per request: off ${median(off.map((l) => l.cpuUs)).toFixed(1)} µs, ` +
        `on ${median(on.map((l) => l.cpuUs)).toFixed(1)} µs; ratio off/on: ${median(cpuRatios).toFixed(3)}\n`,
    );
  } finally {
    await pool.end();
    await offApp.close();
  }
}

/**
 * Metrics off (the app already listening on `offPort`) against metrics on (a second app on the same
 * database, scraped every second), in alternating rounds; the ratio of the medians.
 */
async function compareMetrics(
  env: Record<string, string>,
  parent: string,
  url: string,
  offPort: number,
  connections: number,
  seconds: number,
  rounds: number,
  bodiesFile: string,
): Promise<void> {
  const metricsToken = randomUUID() + randomUUID();
  const onApp = await createApp(
    loadConfig({ ...env, METRICS_PORT: '0', METRICS_TOKEN: metricsToken }, parent),
    url,
  );
  await onApp.listen({ host: '127.0.0.1', port: 0 });
  const onPort = (onApp.getHttpServer().address() as AddressInfo).port;
  const metricsPort = onApp.get(MetricsServer, { strict: false }).port();
  const scrapeUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  let scrapes = 0;
  let lastScrape = '';
  const scrape = async () => {
    const response = await fetch(scrapeUrl, {
      headers: { authorization: `Bearer ${metricsToken}` },
    });
    if (response.status !== 200) {
      throw new Error(`scrape answered ${response.status}`);
    }
    lastScrape = await response.text();
    scrapes += 1;
  };
  const target = (port: number) => `http://127.0.0.1:${port}/v1/licenses/actions/validate-key`;
  try {
    await load(target(onPort), connections, 2, bodiesFile); // warm-up of the second instance
    const { off, on, pairRatios, cpuRatios } = await alternateRounds({
      name: 'metrics',
      offPort,
      onPort,
      connections,
      seconds,
      rounds,
      bodiesFile,
      // Scraped every second while the metrics-on instance is loaded.
      whileOn: () => {
        const scraper = setInterval(() => void scrape().catch(() => undefined), 1_000);
        return () => clearInterval(scraper);
      },
    });
    await scrape();
    const rps = (loads: Load[]) => median(loads.map((l) => l.rps));
    const counted = /^tessera_license_validations_total\{code="VALID"\} (\d+)/m.exec(lastScrape);
    process.stdout.write(
      `median metrics off ${rps(off).toFixed(0)} req/s, on ${rps(on).toFixed(0)} req/s; ` +
        `${scrapes} scrapes of ${Buffer.byteLength(lastScrape)} bytes; VALID validations counted: ${counted?.[1] ?? '?'}\n` +
        `ratio metrics on/off: ${median(pairRatios).toFixed(3)} (median of the rounds' ratios; ` +
        `ratio of the medians ${(rps(on) / rps(off)).toFixed(3)}; target >= 0.95)\n` +
        `server CPU per request: off ${median(off.map((l) => l.cpuUs)).toFixed(1)} µs, ` +
        `on ${median(on.map((l) => l.cpuUs)).toFixed(1)} µs; ` +
        `ratio off/on (throughput the CPU allows, on/off): ${median(cpuRatios).toFixed(3)}\n`,
    );
    process.stdout.write(`${metricsWorkPerValidation()}\n`);
  } finally {
    await onApp.close();
  }
}

/**
 * What metrics add to one validation, timed in-process where machine noise cannot hide it: the signer's
 * timing and histogram observe, the validation counter and the HTTP histogram observe, on children bound
 * once as the app binds them (on a registry of their own, so the app's metrics stay as measured).
 */
function metricsWorkPerValidation(): string {
  const registry = new Registry();
  const http = new Histogram({
    name: 'http',
    help: 'http',
    labelNames: ['method', 'route', 'status_class'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  }).labels({ method: 'POST', route: '/v1/licenses/actions/validate-key', status_class: '2xx' });
  const code = new Counter({
    name: 'validations',
    help: 'v',
    labelNames: ['code'],
    registers: [registry],
  }).labels('VALID');
  const signer = new Histogram({
    name: 'signer',
    help: 's',
    labelNames: ['backend', 'operation'],
    registers: [registry],
  }).labels('software', 'sign');
  const iterations = 1_000_000;
  let best = Infinity;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const started = performance.now();
    for (let i = 0; i < iterations; i += 1) {
      // The signer is timed with two performance.now() calls, as SigningService does.
      const signStarted = performance.now();
      signer.observe((performance.now() - signStarted) / 1000);
      code.inc();
      http.observe(0.004);
    }
    best = Math.min(best, ((performance.now() - started) * 1000) / iterations);
  }
  return `metrics work per validation (in-process, best of 3 x ${iterations}): ${best.toFixed(2)} µs`;
}

/** The same lookup without a framework: parse JSON, keyed hash, the same named prepared query, JSON out. */
function referenceServer(url: string, hashingKey: Buffer) {
  const pool = new Pool({ connectionString: url, max: 20 });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const { key } = JSON.parse(Buffer.concat(chunks).toString()) as { key: string };
      const keyHash = createHmac('sha256', hashingKey)
        .update(`${LICENSE_KEY_PURPOSE}\0${normaliseLicenseKey(key)}`)
        .digest('base64url');
      pool
        // The very query Tessera runs, so the ratio measures everything but the database.
        .query({ name: 'reference-validate', text: VALIDATION_QUERY, values: [keyHash, null] })
        .then((result) => {
          const row = result.rows[0] as
            { id: string; status: string; expires_at: Date } | undefined;
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ valid: row?.status === 'ACTIVE', license: row ?? null }));
        })
        .catch(() => {
          res.writeHead(500).end();
        });
    });
  });
  return { server, pool };
}

void main();
