import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createTesseraClient } from '../../src/client.js';
import type { TesseraClient } from '../../src/client.js';
import { Permission } from 'src/platform/auth/permission.js';
import { freePort } from 'test/support/global-setup.js';
import { rfc6238 } from 'test/support/rfc6238.js';
import { spawnServer, waitForStatus } from 'test/support/server-process.js';
import type { ServerProcess } from 'test/support/server-process.js';
import { TEST_SECRETS } from 'test/support/test-config.js';
import { createTestDatabase } from 'test/support/test-database.js';

export const ROOT = join(__dirname, '..', '..', '..', '..');
const PASSWORD = 'correct-plum-lantern-42';

/**
 * A real Tessera, as `npm start` runs it (the built server in a process of its own), on a database of its
 * own, with an owner and an API key holding every permission. `stop()` and `start()` take it down and
 * bring it back on the same port and database, for the offline tests.
 */
export class RunningTessera {
  server: ServerProcess | undefined;
  apiKey = '';

  private constructor(
    readonly baseUrl: string,
    readonly env: Record<string, string>,
  ) {}

  static async start(): Promise<RunningTessera> {
    const port = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), 'tessera-sdk-'));
    chmodSync(dataDir, 0o755);
    const tessera = new RunningTessera(`http://127.0.0.1:${port}`, {
      ...TEST_SECRETS,
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      DATA_DIR: dataDir,
      DATABASE_URL: await createTestDatabase(),
      PORT: String(port),
      WEBHOOK_DISPATCHER_ENABLED: 'false',
    });
    try {
      await tessera.resume();
      tessera.apiKey = await tessera.newApiKey();
    } catch (error) {
      await tessera.stop(); // no server outlives a failed setup
      throw error;
    }
    return tessera;
  }

  async resume(): Promise<void> {
    this.server = spawnServer(this.env);
    await waitForStatus(`${this.baseUrl}/health/ready`, 200, 60_000).catch((error: Error) => {
      throw new Error(`${error.message}\n${this.server?.output() ?? ''}`);
    });
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server !== undefined && server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  }

  client(): TesseraClient {
    return createTesseraClient({ baseUrl: this.baseUrl, apiKey: this.apiKey });
  }

  /** An owner made with the bootstrap CLI, signed in, MFA enrolled (API keys need it), then a key. */
  private async newApiKey(): Promise<string> {
    const email = `owner-${Math.random().toString(36).slice(2, 10)}@example.com`;
    const created = spawnSync(
      process.execPath,
      ['dist/src/cli/admin-create.js', '--email', email, '--role', 'owner'],
      {
        cwd: ROOT,
        input: PASSWORD,
        encoding: 'utf8',
        env: { PATH: process.env.PATH, ...this.env },
      },
    );
    if (created.status !== 0) {
      throw new Error(`admin-create failed: ${created.stderr}${created.stdout}`);
    }
    const call = async (path: string, token: string | undefined, body: unknown): Promise<any> => {
      const response = await fetch(`${this.baseUrl}${path}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        },
        body: JSON.stringify(body),
      });
      const answer = await response.json();
      if (!response.ok) {
        throw new Error(`${path}: ${response.status} ${JSON.stringify(answer)}`);
      }
      return answer;
    };
    const { accessToken } = await call('/v1/auth/login', undefined, { email, password: PASSWORD });
    const { secret } = await call('/v1/auth/mfa/enroll', accessToken, {});
    await call('/v1/auth/mfa/confirm', accessToken, { code: rfc6238(secret, new Date()) });
    const { key } = await call('/v1/api-keys', accessToken, {
      name: 'sdk tests',
      permissions: Object.values(Permission),
      expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    });
    return key as string;
  }
}

export interface Fixture {
  productId: string;
  productCode: string;
  policyId: string;
  customerId: string;
}

/** A product, a policy (node-locked unless told) and a customer, through the SDK itself. */
export async function newCatalog(
  client: TesseraClient,
  policy: {
    floating?: boolean;
    maxMachines?: number;
    entitlements?: string[];
    durationSeconds?: number;
  } = {},
): Promise<Fixture> {
  const suffix = Math.random().toString(36).slice(2, 8);
  type Path = '/v1/products' | '/v1/policies' | '/v1/customers' | '/v1/entitlements';
  const post = async (path: Path, body: any) => {
    const { data, error, response } = await client.api.POST(path, { body });
    if (!response.ok) {
      throw new Error(`${path}: ${response.status} ${JSON.stringify(error)}`);
    }
    return data as { id: string };
  };
  const product = await post('/v1/products', { code: `app-${suffix}`, name: 'App' });
  for (const code of policy.entitlements ?? []) {
    await post('/v1/entitlements', { code, name: code });
  }
  const created = await post('/v1/policies', {
    productId: product.id,
    name: `Policy ${suffix}`,
    floating: policy.floating ?? false,
    maxMachines: policy.maxMachines,
    durationSeconds: policy.durationSeconds,
    entitlements: policy.entitlements,
  });
  const customer = await post('/v1/customers', {
    name: 'Ada',
    email: `ada-${suffix}@example.com`,
  });
  return {
    productId: product.id,
    productCode: `app-${suffix}`,
    policyId: created.id,
    customerId: customer.id,
  };
}
