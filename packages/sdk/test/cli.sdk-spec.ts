import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Proxy } from './support/proxy.js';
import { newCatalog, ROOT, RunningTessera } from './support/tessera.js';
import type { Fixture } from './support/tessera.js';

// The bin as npm links it; it loads dist/cli.js.
const CLI = join(ROOT, 'packages/sdk/bin/tessera.mjs');

/** The `tessera` command as a subprocess (built by `npm test`): its output and its exit codes. */
describe('tessera CLI', () => {
  let tessera: RunningTessera;
  let catalog: Fixture;
  let home: string;

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'packages/sdk/dist/cli.js'))) {
      throw new Error(
        'packages/sdk/dist is missing: npm test builds it (npm run -w @tessera/sdk build)',
      );
    }
    tessera = await RunningTessera.start();
    catalog = await newCatalog(tessera.client());
    home = mkdtempSync(join(tmpdir(), 'tessera-cli-home-'));
  });
  afterAll(async () => {
    await tessera.stop();
  });

  const run = (args: string[], env: Record<string, string> = {}, input?: string) => {
    const result = spawnSync(process.execPath, [CLI, ...args], {
      encoding: 'utf8',
      input,
      env: {
        PATH: process.env.PATH,
        HOME: home,
        TESSERA_URL: tessera.baseUrl,
        TESSERA_API_KEY: tessera.apiKey,
        ...env,
      },
    });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
  };
  const json = (args: string[], env: Record<string, string> = {}) => {
    const result = run(['--json', ...args], env);
    expect([result.code, result.stderr]).toEqual([0, '']);
    return JSON.parse(result.stdout);
  };
  /** `tessera licenses create` on the suite's policy and customer, as JSON. */
  const createLicense = (...extra: string[]) =>
    json([
      'licenses',
      'create',
      '--policy',
      catalog.policyId,
      '--customer',
      catalog.customerId,
      ...extra,
    ]);

  it('creates, lists, shows, suspends, reinstates and revokes licenses', () => {
    const created = createLicense('--name', 'CLI seat');
    expect(created).toMatchObject({ name: 'CLI seat', status: 'ACTIVE', key: expect.any(String) });

    const table = run(['licenses', 'list', '--policy', catalog.policyId]);
    expect(table.code).toBe(0);
    const [header, row] = table.stdout.trim().split('\n');
    expect(header).toMatch(/^ID\s+STATUS\s+KEYPREFIX\s+POLICYID\s+CUSTOMERID\s+EXPIRESAT$/);
    expect(row).toContain(created.id);
    expect(row).toContain('ACTIVE');
    expect(table.stdout).not.toContain(created.key);

    expect(json(['licenses', 'show', created.id])).toMatchObject({ id: created.id });
    expect(json(['licenses', 'suspend', created.id])).toMatchObject({ status: 'SUSPENDED' });
    const suspended = run(['validate', created.key]);
    expect(suspended).toMatchObject({ code: 1, stdout: expect.stringMatching(/^SUSPENDED: /) });
    expect(json(['licenses', 'reinstate', created.id])).toMatchObject({ status: 'ACTIVE' });
    const valid = run(['validate', created.key]);
    expect(valid).toMatchObject({ code: 0, stdout: expect.stringMatching(/^VALID: /) });
    expect(json(['licenses', 'revoke', created.id])).toMatchObject({ status: 'REVOKED' });
  });

  it('validates with a saved JWKS, lists and deactivates machines', async () => {
    const created = createLicense();
    const dir = mkdtempSync(join(tmpdir(), 'tessera-cli-'));
    const jwks = run(['keys', 'fetch'], { TESSERA_API_KEY: '' });
    expect(jwks.code).toBe(0);
    writeFileSync(join(dir, 'jwks.json'), jwks.stdout);
    expect(JSON.parse(jwks.stdout).keys.length).toBeGreaterThan(0);

    const machine = await tessera
      .client()
      .machines.activate({ licenseId: created.id, fingerprint: 'cli-fp' });
    const validation = json([
      'validate',
      created.key,
      '--fingerprint',
      'cli-fp',
      '--jwks',
      join(dir, 'jwks.json'),
    ]);
    expect(validation).toMatchObject({ valid: true, code: 'VALID', source: 'online' });

    const machines = json(['machines', 'list', '--license', created.id]);
    expect(machines).toEqual([expect.objectContaining({ id: machine.id, fingerprint: 'cli-fp' })]);
    expect(run(['machines', 'deactivate', machine.id]).code).toBe(0);
    expect(json(['machines', 'list', '--license', created.id])).toEqual([]);
  });

  it('checks out a license file and verifies it offline, refusing a changed one', () => {
    const created = createLicense();
    const dir = mkdtempSync(join(tmpdir(), 'tessera-cli-'));
    writeFileSync(join(dir, 'jwks.json'), run(['keys', 'fetch']).stdout);
    const checkout = run(['license-file', 'checkout', created.id, '--ttl', '3600', '--encrypt'], {
      TESSERA_LICENSE_KEY: created.key,
    });
    expect(checkout.code).toBe(0);
    expect(checkout.stdout).toMatch(/^-----BEGIN TESSERA LICENSE FILE-----/);
    writeFileSync(join(dir, 'license.lic'), checkout.stdout);

    const verify = (file: string, env: Record<string, string>) =>
      run(['license-file', 'verify', file, '--jwks', join(dir, 'jwks.json')], {
        TESSERA_API_KEY: '',
        TESSERA_URL: '',
        ...env,
      });
    const verified = verify(join(dir, 'license.lic'), { TESSERA_LICENSE_KEY: created.key });
    expect(verified.code).toBe(0);
    expect(verified.stdout).toContain(`valid: license ${created.id} (ACTIVE)`);
    expect(verify(join(dir, 'license.lic'), {})).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('the license key is needed'),
    });

    const text = readFileSync(join(dir, 'license.lic'), 'utf8');
    const at = text.indexOf('\n', 40) + 5;
    writeFileSync(
      join(dir, 'changed.lic'),
      text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1),
    );
    expect(verify(join(dir, 'changed.lic'), { TESSERA_LICENSE_KEY: created.key })).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('invalid license file'),
    });
  });

  it('has exit codes scripts can rely on', () => {
    // 2: usage (no key, unknown command); 3: the API refused; 5: unreachable.
    expect(run(['licenses', 'list'], { TESSERA_API_KEY: '' })).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('no API key'),
    });
    expect(run(['licences']).code).toBe(2);
    expect(run(['licenses', 'show', '00000000-0000-4000-8000-000000000000'])).toMatchObject({
      code: 3,
      stderr: expect.stringContaining('404 LICENSE_NOT_FOUND'),
    });
    expect(run(['licenses', 'list'], { TESSERA_API_KEY: 'tsk_live_wrong' })).toMatchObject({
      code: 3,
      stderr: expect.stringContaining('401 UNAUTHENTICATED'),
    });
    expect(run(['keys', 'fetch'], { TESSERA_URL: 'http://127.0.0.1:9' }).code).toBe(5);
    expect(run(['validate', 'ANY-KEY'], { TESSERA_URL: 'http://127.0.0.1:9' }).code).toBe(5);
  });

  it('exits 4 when a validation answer does not verify', async () => {
    const proxy = await new Proxy(tessera.baseUrl).start();
    proxy.handler = async (request, forward) => {
      const answer = await forward(request);
      if (request.path.endsWith('/validate-key')) {
        answer.body = Buffer.from(answer.body.toString().replace('NOT_FOUND', 'VALID'));
      }
      return answer;
    };
    try {
      const forged = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [CLI, 'validate', 'AAAAA-BBBBB'], {
          env: { PATH: process.env.PATH, HOME: home, TESSERA_URL: proxy.url },
        });
        let stderr = '';
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.on('exit', (code) => resolve({ code, stderr }));
      });
      expect(forged.code).toBe(4);
      expect(forged.stderr).toContain('signature does not verify');
    } finally {
      await proxy.close();
    }
  });

  it('reads credentials from a 0600 config file or stdin, and refuses a config others can read', () => {
    const dir = join(home, '.config', 'tessera');
    mkdirSync(dir, { recursive: true });
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ url: tessera.baseUrl, apiKey: tessera.apiKey }));
    chmodSync(config, 0o644);
    const noEnv = (args: string[], input?: string) =>
      spawnSync(process.execPath, [CLI, ...args], {
        encoding: 'utf8',
        input,
        env: { PATH: process.env.PATH, HOME: home },
      });
    const refused = noEnv(['licenses', 'list']);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('chmod 600');

    chmodSync(config, 0o600);
    expect(noEnv(['--json', 'licenses', 'list', '--policy', catalog.policyId]).status).toBe(0);

    writeFileSync(config, JSON.stringify({ url: tessera.baseUrl }));
    chmodSync(config, 0o600);
    const piped = noEnv(
      ['--api-key-stdin', '--json', 'licenses', 'list', '--policy', catalog.policyId],
      `${tessera.apiKey}\n`,
    );
    expect([piped.status, piped.stderr]).toEqual([0, '']);
  });
});

describe('the quick start of docs/sdk.md', () => {
  let tessera: RunningTessera;

  beforeAll(async () => {
    tessera = await RunningTessera.start();
  });
  afterAll(async () => {
    await tessera.stop();
  });

  it('is quoted verbatim by the docs, and takes a new app to a verified validation', async () => {
    const example = join(ROOT, 'packages/sdk/examples/quick-start.mjs');
    const code = readFileSync(example, 'utf8');
    expect(readFileSync(join(ROOT, 'docs/sdk.md'), 'utf8')).toContain(code);
    expect(
      code
        .trim()
        .split('\n')
        .filter((line) => line.trim() !== '').length,
    ).toBeLessThanOrEqual(12);

    const catalog = await newCatalog(tessera.client());
    const { key } = await tessera
      .client()
      .licenses.create({ policyId: catalog.policyId, customerId: catalog.customerId });
    const cwd = mkdtempSync(join(tmpdir(), 'tessera-app-'));
    const env = { PATH: process.env.PATH, TESSERA_URL: tessera.baseUrl, LICENSE_KEY: key };
    const first = spawnSync(process.execPath, [example], { cwd, env, encoding: 'utf8' });
    expect([first.status, first.stdout, first.stderr]).toEqual([0, 'licensed (online)\n', '']);
    expect(statSync(join(cwd, 'license.json')).mode & 0o777).toBe(0o600);

    await tessera.stop();
    const offline = spawnSync(process.execPath, [example], { cwd, env, encoding: 'utf8' });
    expect([offline.status, offline.stdout]).toEqual([0, 'licensed (cache)\n']);
  });
});
