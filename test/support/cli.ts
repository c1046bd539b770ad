import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { TEST_SECRETS } from 'test/support/test-config';

const ROOT = join(__dirname, '..', '..');
const run = promisify(execFile);

/**
 * Runs a built CLI (dist/, made by `npm test`'s build) against a test database, as an operator would,
 * with `env` added (e.g. the PKCS#11 settings). SOFTHSM2_CONF passes through, so the CLI sees the run's
 * SoftHSM tokens.
 */
export async function cli(
  script: string,
  args: string[],
  databaseUrl: string,
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      [join(ROOT, 'dist/src/cli', script), ...args],
      {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH ?? '',
          ...(process.env.SOFTHSM2_CONF === undefined
            ? {}
            : { SOFTHSM2_CONF: process.env.SOFTHSM2_CONF }),
          DATABASE_URL: databaseUrl,
          DATABASE_MIGRATE_ON_BOOT: 'false',
          NODE_ENV: 'test',
          ...TEST_SECRETS,
          LOG_LEVEL: 'silent',
          ...env,
        },
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}
