/** Shared by the benchmarks: the seeded licenses and the load generator child process (`-`: GET). */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { Pool } from 'pg';

import { newLicenseKey, normaliseLicenseKey } from 'src/modules/licenses/license-key';
import { LICENSE_KEY_PURPOSE } from 'src/modules/licenses/license.service';
import type { KeyedHash } from 'src/platform/crypto/keyed-hash';

export interface Load {
  rps: number;
  total: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  /** CPU time of the load generator process. */
  cpuMs: number;
}

export /** One product, policy and customer, then `count` licenses with known keys (as issuing would store them). */
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

export async function load(
  url: string,
  connections: number,
  seconds: number,
  bodiesFile: string,
  headers?: Record<string, string>,
): Promise<Load> {
  // Every target gets the same POSTed bodies, so all three pay for receiving and parsing them.
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      join(__dirname, 'load.js'),
      url,
      String(connections),
      String(seconds),
      bodiesFile,
      ...(headers === undefined ? [] : [JSON.stringify(headers)]),
    ],
    { maxBuffer: 1 << 20 },
  );
  return JSON.parse(stdout.trim().split('\n').pop()!) as Load;
}
