/**
 * `npm run bench:reports [-- --seconds 10 --licenses 100000 --days 90]`: the reports over 90 days of
 * rollups for 100,000 licenses, through the whole app (authenticated with an API key), against a bare
 * Fastify route measured in the same run on 127.0.0.1. Each report is loaded with one connection (its
 * latency: the target is p99 under 200 ms) and with ten (its throughput, as a ratio to the bare route).
 *
 * The rollups are written straight into usage_rollups, as 90 days of folding would have left them: every
 * 15-minute bucket for four validation codes, in the scopes of everything, the product, the policy, the
 * customer and a hundred other customers (about 3.6 million rows), so each report reads its own range
 * of a large table. The licenses' expiry dates are spread over the range, which the licenses report reads
 * from the licenses themselves.
 */
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import fastify from 'fastify';
import { Pool } from 'pg';

import { createApp } from 'src/app';
import { loadConfig, withMigrationUrl } from 'src/config/app-config';
import { ApiKeyService } from 'src/modules/api-keys/api-key.service';
import { ALL_PERMISSIONS, Permission } from 'src/platform/auth/permission';
import { KeyedHash } from 'src/platform/crypto/keyed-hash';
import { startEmbeddedPostgres } from 'src/platform/database/embedded-postgres';
import { freePortFor } from './ports';
import { load, seed } from './validation-load';
import type { Load } from './validation-load';

const DAY_MS = 86_400_000;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '10' },
      licenses: { type: 'string', default: '100000' },
      days: { type: 'string', default: '90' },
    },
  });
  const seconds = Number(values.seconds);
  const licenseCount = Number(values.licenses);
  const days = Number(values.days);

  const parent = mkdtempSync(join(tmpdir(), 'tessera-bench-reports-'));
  chmodSync(parent, 0o755); // as root, PostgreSQL runs as `postgres` and must enter it
  const database = await startEmbeddedPostgres({
    dir: join(parent, 'pg'),
    port: await freePortFor(),
    log: () => undefined,
  });
  const config = loadConfig(
    {
      NODE_ENV: 'production',
      TLS_TERMINATED_BY_PROXY: 'true',
      LOG_LEVEL: 'silent',
      DATA_DIR: parent,
      JWT_SECRET: randomUUID() + randomUUID(),
      ENCRYPTION_KEY: randomUUID() + randomUUID(),
      HASHING_KEY: randomUUID() + randomUUID(),
      RATE_LIMIT_API_KEY_PER_MINUTE: '10000000',
    },
    parent,
  );
  const app = await createApp(withMigrationUrl(config, database.migrationUrl), database.url);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const appPort = (app.getHttpServer().address() as AddressInfo).port;

  const bare = fastify();
  bare.get('/bare', () => ({ ok: true }));
  await bare.listen({ host: '127.0.0.1', port: 0 });
  const barePort = (bare.server.address() as AddressInfo).port;

  const pool = new Pool({ connectionString: database.migrationUrl });
  try {
    const started = Date.now();
    await seed(database.url, new KeyedHash(config.secrets.hashing), licenseCount);
    const [{ product_id: productId, policy_id: policyId, customer_id: customerId }] = (
      await pool.query<{ product_id: string; policy_id: string; customer_id: string }>(
        `SELECT p.product_id, l.policy_id, l.customer_id
         FROM licenses l JOIN policies p ON p.id = l.policy_id LIMIT 1`,
      )
    ).rows;
    await pool.query(
      `UPDATE licenses SET expires_at = now() - $1 * interval '1 day' + random() * $1 * interval '1 day'`,
      [days],
    );
    const scopes = [
      '00000000-0000-0000-0000-000000000000',
      productId,
      policyId,
      customerId,
      ...Array.from({ length: 100 }, () => randomUUID()),
    ];
    const { rowCount } = await pool.query(
      `INSERT INTO usage_rollups (scope_id, metric, bucket, dim, count)
       SELECT s, 'validation', b, d, 1 + (random() * 500)::int
       FROM unnest($1::uuid[]) AS s,
            generate_series(date_bin('15 minutes', now() - $2 * interval '1 day', TIMESTAMPTZ '2000-01-01'),
                            now(), interval '15 minutes') AS b,
            unnest(ARRAY['VALID', 'EXPIRED', 'NOT_FOUND', 'SUSPENDED']) AS d`,
      [scopes, days],
    );
    // What autovacuum does within minutes on a live server (the migration tunes it for this table): the
    // visibility map lets reports read the rollups by index-only scans.
    await pool.query(`VACUUM ANALYZE`);
    process.stdout.write(
      `reports bench: ${licenseCount} licenses, ${rowCount} rollup rows over ${days} days ` +
        `(seeded in ${((Date.now() - started) / 1000).toFixed(0)} s), ${seconds} s per target, 127.0.0.1\n`,
    );

    const apiKey = await app.get(ApiKeyService, { strict: false }).create(
      { type: 'system', id: null, permissions: new Set(ALL_PERMISSIONS) },
      {
        name: 'bench',
        permissions: [Permission.ReportRead],
        expiresAt: new Date(Date.now() + DAY_MS).toISOString(),
      },
    );
    const headers = { authorization: `Bearer ${apiKey.key}` };
    const range = `from=${new Date(Date.now() - days * DAY_MS).toISOString()}&to=${new Date().toISOString()}`;
    const base = `http://127.0.0.1:${appPort}/v1/reports`;
    const targets: Array<[string, string]> = [
      [`validations, ${days} days by day`, `${base}/validations?${range}&interval=day`],
      [
        `validations, ${days} days by hour, Berlin`,
        `${base}/validations?${range}&interval=hour&tz=Europe/Berlin`,
      ],
      [
        `validations of a customer`,
        `${base}/validations?${range}&interval=day&customerId=${customerId}`,
      ],
      [
        `licenses (expiries) of a product`,
        `${base}/licenses?${range}&interval=week&productId=${productId}`,
      ],
      [`seats snapshot`, `${base}/seats`],
    ];

    const bareRps = (await load(`http://127.0.0.1:${barePort}/bare`, 10, seconds, '-')).rps;
    process.stdout.write(
      `${'bare Fastify route'.padEnd(40)} ${bareRps.toFixed(0).padStart(7)} req/s\n`,
    );
    let worstP99 = 0;
    for (const [label, url] of targets) {
      await load(url, 2, 2, '-', headers); // warm-up
      const single: Load = await load(url, 1, seconds, '-', headers);
      const parallel: Load = await load(url, 10, seconds, '-', headers);
      if (single.non2xx + parallel.non2xx + single.errors + parallel.errors > 0) {
        throw new Error(`${label}: non-2xx or errors (${JSON.stringify({ single, parallel })})`);
      }
      worstP99 = Math.max(worstP99, single.p99);
      process.stdout.write(
        `${label.padEnd(40)} ${parallel.rps.toFixed(0).padStart(7)} req/s (ratio to bare ${(parallel.rps / bareRps).toFixed(3)}); ` +
          `one at a time p50 ${single.p50} ms p99 ${single.p99} ms\n`,
      );
    }
    process.stdout.write(`worst p99 one at a time: ${worstP99} ms (target < 200 ms)\n`);
  } finally {
    await pool.end();
    await app.close();
    await bare.close();
    await database.stop();
    rmSync(parent, { recursive: true, force: true });
  }
  process.exit(0);
}

void main();
