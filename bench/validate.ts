/**
 * `npm run bench:validate [-- --seconds 10 --connections 50 --licenses 10000 --hsm --algorithm ES256]`:
 * license validation through the whole app (answers signed), against (a) a bare Fastify JSON route and
 * (b) a minimal reference route doing the same license lookup with one raw prepared pg query and no
 * framework, all measured in one run on 127.0.0.1. The load generator runs in its own process
 * (bench/load.ts). `--hsm` signs in a throwaway SoftHSM2 token instead of the software signer.
 */
import { execFile } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';

import fastify from 'fastify';
import { Pool } from 'pg';

import { createApp } from 'src/app';
import { loadConfig } from 'src/config/app-config';
import { newLicenseKey, normaliseLicenseKey } from 'src/modules/licenses/license-key';
import { VALIDATION_QUERY } from 'src/modules/licenses/license.repository';
import { LICENSE_KEY_PURPOSE } from 'src/modules/licenses/license.service';
import { KeyedHash } from 'src/platform/crypto/keyed-hash';
import { startEmbeddedPostgres, withDatabase } from 'src/platform/database/embedded-postgres';
import { freePortFor } from './ports';
import { softHsmToken } from './softhsm';

interface Load {
  rps: number;
  total: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

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
  const config = loadConfig(
    {
      ...(token === undefined
        ? {}
        : {
            PKCS11_MODULE: token.modulePath,
            PKCS11_TOKEN_LABEL: token.label,
            PKCS11_PIN: token.pin,
          }),
      SIGNING_ALGORITHM: values.algorithm,
      NODE_ENV: 'production',
      LOG_LEVEL: 'silent',
      DATA_DIR: parent,
      JWT_SECRET: randomUUID() + randomUUID(),
      ENCRYPTION_KEY: randomUUID() + randomUUID(),
      HASHING_KEY: randomUUID() + randomUUID(),
      RATE_LIMIT_VALIDATE_PER_MINUTE: '100000000',
      DATABASE_POOL_SIZE: '20',
    },
    parent,
  );
  const url = withDatabase(database.url, 'postgres');
  const app = await createApp(config, url);
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

/** One product, policy and customer, then `count` licenses with known keys (as issuing would store them). */
async function seed(url: string, hash: KeyedHash, count: number): Promise<string[]> {
  const pool = new Pool({ connectionString: url });
  try {
    const [{ id: productId }] = (
      await pool.query<{ id: string }>(
        `INSERT INTO products (name, code) VALUES ('Bench', 'bench') RETURNING id`,
      )
    ).rows;
    const [{ id: policyId }] = (
      await pool.query<{ id: string }>(
        `INSERT INTO policies (product_id, name, floating, max_machines) VALUES ($1, 'Bench', true, 5) RETURNING id`,
        [productId],
      )
    ).rows;
    const [{ id: customerId }] = (
      await pool.query<{ id: string }>(
        `INSERT INTO customers (name, email) VALUES ('Bench', 'bench@example.com') RETURNING id`,
      )
    ).rows;
    const keys = Array.from({ length: count }, () => newLicenseKey());
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      await pool.query(
        `INSERT INTO licenses (policy_id, customer_id, key_hash, key_prefix, expires_at)
         SELECT $1, $2, h, left(h, 5), now() + interval '30 days' FROM unnest($3::text[]) AS h`,
        [
          policyId,
          customerId,
          batch.map((key) => hash.digest(LICENSE_KEY_PURPOSE, normaliseLicenseKey(key))),
        ],
      );
    }
    return keys;
  } finally {
    await pool.end();
  }
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

async function load(
  url: string,
  connections: number,
  seconds: number,
  bodiesFile: string,
): Promise<Load> {
  // Every target gets the same POSTed bodies, so all three pay for receiving and parsing them.
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [join(__dirname, 'load.js'), url, String(connections), String(seconds), bodiesFile],
    { maxBuffer: 1 << 20 },
  );
  return JSON.parse(stdout.trim().split('\n').pop()!) as Load;
}

void main();
