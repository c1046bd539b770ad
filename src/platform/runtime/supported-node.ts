/**
 * Imported first by every entry point (the tracing preload, main.ts, the CLIs), before any dependency
 * loads: on a Node older than the dependencies need, Tessera stops with a message naming the Node it found
 * and how to run the supported one, instead of failing somewhere inside a dependency (on Node 20 the
 * production command died with a segmentation fault while loading). The minimum is package.json's
 * `engines.node`, the one place it is written.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** `>=X.Y.Z` from package.json's engines.node, as [X, Y, Z]. */
export function minimumNode(engines: string): [number, number, number] {
  const match = /^>=\s*(\d+)\.(\d+)\.(\d+)$/.exec(engines.trim());
  if (match === null) {
    throw new Error(`package.json engines.node must read ">=X.Y.Z", not "${engines}"`);
  }
  return [Number(match[1]), Number(match[2]), Number(match[3])];
}

/** Whether `version` (e.g. `v24.21.0`) is at least `minimum`. */
export function isSupportedNode(version: string, minimum: [number, number, number]): boolean {
  const parts = version.replace(/^v/, '').split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    if ((parts[i] ?? 0) !== minimum[i]) {
      return (parts[i] ?? 0) > minimum[i];
    }
  }
  return true;
}

function enginesRange(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) {
    dir = dirname(dir);
  }
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
    engines?: { node?: string };
  };
  return pkg.engines?.node ?? '>=0.0.0';
}

const range = enginesRange();
if (!isSupportedNode(process.version, minimumNode(range))) {
  process.stderr.write(
    `Tessera cannot start: it needs Node.js ${range} (Node 24 is the tested release), and this is ` +
      `Node.js ${process.version} (${process.execPath}).\n` +
      'Use the Node 24 that `npm install` puts in node_modules/.bin/node: `npm start` and every npm ' +
      'script run on it, or start the production entry with `node_modules/.bin/node --enable-source-maps ' +
      '--require ./dist/src/platform/telemetry/otel.js dist/src/main.js`. Or install Node 24.\n',
  );
  process.exit(1);
}
