import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ConfigError, loadConfig } from 'src/config/app-config';

/** Valid secrets, for configurations that are about something else. */
export const SECRETS = {
  JWT_SECRET: 'j'.repeat(32),
  ENCRYPTION_KEY: 'e'.repeat(32),
  HASHING_KEY: 'h'.repeat(32),
};

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'tessera-config-'));
}

/** The problems loadConfig reports for `env` (it must reject it). */
export function problemsOf(env: Record<string, string>, cwd = '/srv/tessera'): string[] {
  try {
    loadConfig({ DATA_DIR: tempDir(), ...env }, cwd);
  } catch (error) {
    if (error instanceof ConfigError) {
      return [...error.problems];
    }
    throw error;
  }
  throw new Error('expected the configuration to be rejected');
}
