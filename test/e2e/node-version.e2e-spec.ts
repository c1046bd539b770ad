import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { isSupportedNode } from 'src/platform/runtime/supported-node';

const ROOT = join(__dirname, '..', '..');

/** Node binaries on PATH (the system's, not the `node` devDependency's) older than Tessera supports. */
function unsupportedNodes(): string[] {
  const candidates = (process.env.PATH ?? '')
    .split(':')
    .filter((dir) => dir !== '' && !dir.includes('node_modules'))
    .map((dir) => join(dir, 'node'))
    .concat('/usr/bin/node');
  const found = new Map<string, string>();
  for (const path of candidates) {
    try {
      const version = execFileSync(path, ['--version'], { encoding: 'utf8' }).trim();
      if (!isSupportedNode(version, [22, 15, 0])) {
        found.set(version, path);
      }
    } catch {
      // not there, or not runnable
    }
  }
  return [...found.values()];
}

const ENTRIES: Array<[string, string[]]> = [
  [
    'the production command',
    [
      '--enable-source-maps',
      '--require',
      './dist/src/platform/telemetry/otel.js',
      'dist/src/main.js',
    ],
  ],
  ['main.js without the preload', ['dist/src/main.js']],
  ['the migrate CLI', ['dist/src/cli/migrate.js', 'show']],
  [
    'the admin CLI',
    ['dist/src/cli/admin-create.js', '--email', 'a@example.com', '--role', 'owner'],
  ],
  ['the keys CLI', ['dist/src/cli/keys.js', 'list']],
  ['the audit CLI', ['dist/src/cli/audit-verify.js']],
];

describe('the Node that runs Tessera', () => {
  const old = unsupportedNodes();

  if (old.length === 0) {
    it('has no Node older than 22.15 on this machine to refuse (the system Node is new enough)', () => {
      process.stderr.write(
        'node-version.e2e-spec: no unsupported Node on PATH, refusal not exercised\n',
      );
    });
  }

  describe.each(old.map((path) => [path]))('%s', (path) => {
    it.each(ENTRIES)('%s refuses to start, naming the Node it found', (_name, args) => {
      const result = spawnSync(path, args, {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 20_000,
        // Nothing but PATH: the check must come before configuration, the database or tracing.
        env: { PATH: process.env.PATH ?? '' },
      });
      expect(result.signal).toBeNull(); // no segmentation fault, no hang
      expect(result.status).toBe(1);
      const version = execFileSync(path, ['--version'], { encoding: 'utf8' }).trim();
      expect(result.stderr).toContain('Tessera cannot start: it needs Node.js >=22.15.0');
      expect(result.stderr).toContain(`this is Node.js ${version} (${path})`);
      expect(result.stderr).toContain('node_modules/.bin/node');
      expect(result.stdout).toBe('');
    });
  });

  it('lets the supported Node through the check', () => {
    const result = spawnSync(
      process.execPath,
      [
        '-e',
        "require('./dist/src/platform/runtime/supported-node'); process.stdout.write('passed')",
      ],
      { cwd: ROOT, encoding: 'utf8', timeout: 20_000 },
    );
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('passed');
    expect(result.status).toBe(0);
  });
});
