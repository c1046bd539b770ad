import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { loadConfig } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';

/** Fixed test secrets: long enough to pass validation, obviously not real. */
export const TEST_SECRETS = {
  JWT_SECRET: 'test-jwt-secret-0123456789abcdef0123456789',
  ENCRYPTION_KEY: 'test-encryption-key-0123456789abcdef01234',
  HASHING_KEY: 'test-hashing-key-0123456789abcdef0123456789',
};

/** A validated config as the server would load it, from a test environment plus `overrides`. */
export function testConfig(overrides: Record<string, string> = {}): AppConfig {
  return loadConfig(
    {
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      DATA_DIR: mkdtempSync(join(tmpdir(), 'tessera-data-')),
      ...TEST_SECRETS,
      ...overrides,
    },
    process.cwd(),
  );
}
