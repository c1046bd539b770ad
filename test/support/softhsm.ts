import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

export interface SoftHsmToken {
  readonly modulePath: string;
  readonly label: string;
  readonly pin: string;
  /** Path of the softhsm2.conf that points at this token's private store; exported as SOFTHSM2_CONF. */
  readonly confPath: string;
}

/** Whether the HSM tests can run here. With REQUIRE_HSM=1 (CI) they must: a missing SoftHSM fails them. */
export function softHsmAvailable(): boolean {
  return existsSync(SOFTHSM_MODULE) || process.env.REQUIRE_HSM === '1';
}

/** `describe` for tests that need SoftHSM: skipped where it is absent, unless REQUIRE_HSM=1 makes that a failure. */
export function describeHsm(name: string, body: () => void): void {
  (softHsmAvailable() ? describe : describe.skip)(name, body);
}

/**
 * The run's isolated token store, created by global setup before any worker starts: SoftHSM reads
 * SOFTHSM2_CONF with getenv() when the module loads, and Jest's sandboxed `process.env` never reaches it.
 */
export function createSoftHsmStore(): string | undefined {
  if (!existsSync(SOFTHSM_MODULE)) {
    return undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), 'tessera-softhsm-'));
  const tokens = join(dir, 'tokens');
  mkdirSync(tokens);
  const confPath = join(dir, 'softhsm2.conf');
  writeFileSync(
    confPath,
    `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\n`,
  );
  return confPath;
}

/** A fresh token with a unique label in the run's store, so test files never share keys. */
export function createSoftHsmToken(): SoftHsmToken {
  const confPath = process.env.SOFTHSM2_CONF;
  if (!existsSync(SOFTHSM_MODULE) || confPath === undefined) {
    throw new Error(
      `SoftHSM2 is not installed (${SOFTHSM_MODULE} missing): apt-get install -y softhsm2`,
    );
  }
  const label = `t-${randomUUID().slice(0, 18)}`;
  const pin = randomUUID().slice(0, 8);
  execFileSync(
    'softhsm2-util',
    ['--init-token', '--free', '--label', label, '--so-pin', `so-${pin}`, '--pin', pin],
    {
      env: { ...process.env, SOFTHSM2_CONF: confPath },
      stdio: 'pipe',
    },
  );
  return { modulePath: SOFTHSM_MODULE, label, pin, confPath };
}

/**
 * Runs test/support/hsm-objects.cjs (`inspect <label>`, `list`, `generate <label> <id>`) on `token` from a
 * separate process: an independent look into the token, not through Tessera's signer.
 */
export function hsmObjects(
  token: Pick<SoftHsmToken, 'modulePath' | 'label' | 'pin'>,
  ...args: string[]
): string {
  return execFileSync(
    process.execPath,
    [join(__dirname, 'hsm-objects.cjs'), token.modulePath, token.label, token.pin, ...args],
    { env: process.env },
  ).toString();
}
