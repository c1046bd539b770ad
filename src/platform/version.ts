import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

let cached: string | undefined;

/** Tessera's version from its package.json, found by walking up from this file (src/ or dist/src/). */
export function packageVersion(): string {
  if (cached === undefined) {
    let dir = __dirname;
    while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) {
      dir = dirname(dir);
    }
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: string };
    cached = pkg.version ?? '0.0.0';
  }
  return cached;
}
