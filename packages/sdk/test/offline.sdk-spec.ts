import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { JSONWebKeySet } from 'jose';

import { createTesseraClient } from '../src/client.js';
import { Licensing } from '../src/licensing.js';
import type { LicensingOptions } from '../src/licensing.js';
import { FileStore, machineFingerprint } from '../src/node.js';
import { MemoryStore } from '../src/store.js';
import { newCatalog, RunningTessera } from './support/tessera.js';

const HOUR = 3_600_000;

/**
 * Offline: the server process is stopped for real; a fake clock (the `now` option) moves time so the
 * grace period and the license file's TTL run out without waiting.
 */
describe('Licensing (offline)', () => {
  let tessera: RunningTessera;
  let jwks: JSONWebKeySet;
  let key: string;
  let cachePath: string;
  let offset = 0;
  const fingerprint = 'fp-offline';
  const scope = { fingerprint };
  const options = (overrides: Partial<LicensingOptions> = {}): LicensingOptions => ({
    baseUrl: tessera.baseUrl,
    jwks,
    store: new FileStore(cachePath),
    offlineGraceSeconds: 3600,
    retries: 0,
    now: () => new Date(Date.now() + offset),
    ...overrides,
  });

  beforeAll(async () => {
    tessera = await RunningTessera.start();
    const client = tessera.client();
    const catalog = await newCatalog(client);
    key = (
      await client.licenses.create({ policyId: catalog.policyId, customerId: catalog.customerId })
    ).key;
    jwks = await createTesseraClient({ baseUrl: tessera.baseUrl }).keys();
    cachePath = join(mkdtempSync(join(tmpdir(), 'tessera-cache-')), 'app', 'license-cache.json');

    // Online once: activate, validate, check out an encrypted machine file for 2 hours.
    const licensing = new Licensing(options());
    await licensing.activate(key, { fingerprint });
    await expect(licensing.validate(key, { scope })).resolves.toMatchObject({ code: 'VALID' });
    await licensing.checkOut(key, { fingerprint, ttl: 7200, encrypt: true });
    await tessera.stop();
  });
  afterAll(async () => {
    await tessera.stop();
  });
  afterEach(() => {
    offset = 0;
  });

  it('keeps the cache in a 0600 file of signed documents', () => {
    expect(statSync(cachePath).mode & 0o777).toBe(0o600);
    const entries = JSON.parse(readFileSync(cachePath, 'utf8')) as Record<string, string>;
    expect(Object.keys(entries).sort()).toEqual([
      'clock',
      expect.stringMatching(/^license-file-/),
      expect.stringMatching(/^validation-/),
    ]);
    expect(readFileSync(cachePath, 'utf8')).not.toContain(key);
    expect(readdirSync(join(cachePath, '..'))).toEqual(['license-cache.json']);
  });

  it('answers from the last signed validation within the grace period, across a restart', async () => {
    const answer = await new Licensing(options()).validate(key, { scope });
    expect(answer).toMatchObject({ valid: true, code: 'VALID', source: 'cache' });
    expect(answer.offlineUntil!.getTime() - answer.validatedAt!.getTime()).toBe(HOUR);
    // Another scope was never answered: nothing signed says anything about it.
    await expect(
      new Licensing(options()).validate(key, { scope: { fingerprint: 'elsewhere' } }),
    ).resolves.toMatchObject({
      valid: false,
      code: 'FINGERPRINT_SCOPE_MISMATCH',
      source: 'license-file',
    });
  });

  it('then from the license file until it expires, then says "expired offline"', async () => {
    offset = 1.5 * HOUR;
    const fromFile = await new Licensing(options()).validate(key, { scope });
    expect(fromFile).toMatchObject({ valid: true, code: 'VALID', source: 'license-file' });
    await expect(new Licensing(options()).entitlements(key, fingerprint)).resolves.toEqual([]);

    offset = 2 * HOUR + 6 * 60_000; // past the file's exp and the 5 minutes of clock tolerance
    await expect(new Licensing(options()).validate(key, { scope })).resolves.toMatchObject({
      valid: false,
      code: 'EXPIRED_OFFLINE',
      source: 'offline',
    });
  });

  it('detects a clock set back before the last signed time it saw', async () => {
    offset = -24 * HOUR;
    const answer = await new Licensing(options()).validate(key, { scope });
    expect(answer).toMatchObject({ valid: false, code: 'CLOCK_TAMPERED', clockTampered: true });
    await expect(new Licensing(options()).lastSignedTime()).resolves.toEqual(expect.any(Date));
  });

  it('refuses a cache edited on disk: nothing is extended', async () => {
    const edited = join(mkdtempSync(join(tmpdir(), 'tessera-cache-')), 'cache.json');
    const entries = JSON.parse(readFileSync(cachePath, 'utf8')) as Record<string, string>;
    const name = Object.keys(entries).find((entry) => entry.startsWith('validation-'))!;
    const signed = JSON.parse(entries[name]) as { body: string; signature: string };
    const later = new Date(Date.now() + 365 * 24 * HOUR).toISOString();
    signed.body = signed.body.replace(/"validatedAt":"[^"]+"/, `"validatedAt":"${later}"`);
    const licenseFile = Object.keys(entries).find((entry) => entry.startsWith('license-file-'))!;
    const file = entries[licenseFile];
    writeFileSync(
      edited,
      JSON.stringify({
        ...entries,
        [name]: JSON.stringify(signed),
        [licenseFile]: file.replace(/[A-Za-z](?=[^\n]*\n-----END)/, (c) => (c === 'A' ? 'B' : 'A')),
      }),
    );
    offset = 1.5 * HOUR; // past the real answer's grace: only the edit could make it answer
    const answer = await new Licensing(options({ store: new FileStore(edited) })).validate(key, {
      scope,
    });
    expect(answer).toMatchObject({ valid: false, code: 'OFFLINE_CACHE_INVALID' });
  });

  it('says so when nothing signed was ever stored', async () => {
    const answer = await new Licensing(options({ store: new MemoryStore() })).validate(key, {
      scope,
    });
    expect(answer).toMatchObject({ valid: false, code: 'OFFLINE_NO_CACHE', source: 'offline' });
  });
});

describe('machineFingerprint', () => {
  it('is stable, hashed per app, and never the raw machine id', async () => {
    const raw = readFileSync('/etc/machine-id', 'utf8').trim();
    const first = await machineFingerprint('com.example.app');
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    expect(await machineFingerprint('com.example.app')).toBe(first);
    expect(await machineFingerprint('com.example.other')).not.toBe(first);
    expect(first).not.toContain(raw);
  });
});

describe('the core entry point', () => {
  it('imports nothing Node-only (it runs in browsers and Electron renderers)', () => {
    const src = join(__dirname, '..', 'src');
    const core = readdirSync(src).filter(
      (file) => file.endsWith('.ts') && !['node.ts', 'cli.ts'].includes(file),
    );
    expect(core).toContain('index.ts');
    for (const file of core) {
      const text = readFileSync(join(src, file), 'utf8');
      expect([
        file,
        /from 'node:|require\(|from '\.\/(node|cli)\.js'|\bBuffer\b|process\./.test(text),
      ]).toEqual([file, false]);
    }
  });
});
