import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { createTesseraClient } from '../src/client.js';
import { TesseraApiError, TesseraNetworkError } from '../src/errors.js';
import { Proxy } from './support/proxy.js';
import { newCatalog, ROOT, RunningTessera } from './support/tessera.js';

/** The typed API client against a real Tessera process. */
describe('TesseraClient', () => {
  let tessera: RunningTessera;
  const proxies: Proxy[] = [];

  beforeAll(async () => {
    tessera = await RunningTessera.start();
  });
  afterAll(async () => {
    await tessera.stop();
  });
  afterEach(async () => {
    await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
  });

  const proxied = async (): Promise<Proxy> => {
    const proxy = await new Proxy(tessera.baseUrl).start();
    proxies.push(proxy);
    return proxy;
  };

  it('has committed types that are exactly what the running server generates', () => {
    const check = spawnSync(
      process.execPath,
      [
        join(ROOT, 'packages/sdk/scripts/generate-types.mjs'),
        '--check',
        '--url',
        `${tessera.baseUrl}/openapi.json`,
      ],
      { encoding: 'utf8' },
    );
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
  });

  it('issues, reads, lists (across pages) and moves licenses through their lifecycle', async () => {
    const client = tessera.client();
    const catalog = await newCatalog(client, { durationSeconds: 30 * 86_400 });
    const issued = [];
    for (let i = 0; i < 3; i++) {
      issued.push(
        await client.licenses.create({
          policyId: catalog.policyId,
          customerId: catalog.customerId,
        }),
      );
    }
    expect(issued[0].key).toMatch(/^[0-9A-Z]{5}(-[0-9A-Z]{5}){5}$/);

    const listed = [];
    for await (const license of client.licenses.list({ policyId: catalog.policyId, limit: 2 })) {
      listed.push(license.id);
    }
    expect(listed.sort()).toEqual(issued.map((license) => license.id).sort());

    const id = issued[0].id;
    await expect(client.licenses.get(id)).resolves.toMatchObject({ id, status: 'ACTIVE' });
    await expect(client.licenses.suspend(id)).resolves.toMatchObject({ status: 'SUSPENDED' });
    await expect(client.licenses.reinstate(id)).resolves.toMatchObject({ status: 'ACTIVE' });
    await expect(client.licenses.renew(id)).resolves.toMatchObject({ id });
    await expect(client.licenses.revoke(id)).resolves.toMatchObject({ status: 'REVOKED' });

    const file = await client.licenses.checkOut(issued[1].id, { ttl: 3600 });
    expect(file.certificate).toContain('-----BEGIN TESSERA LICENSE FILE-----');
    expect(file.ttl).toBe(3600);
  });

  it('activates, lists and deactivates machines, and serves the JWKS', async () => {
    const client = tessera.client();
    const catalog = await newCatalog(client, { floating: true, maxMachines: 5 });
    const license = await client.licenses.create({
      policyId: catalog.policyId,
      customerId: catalog.customerId,
    });
    const machine = await client.machines.activate({
      licenseId: license.id,
      fingerprint: 'fp-1',
      name: 'build box',
    });
    await expect(client.machines.get(machine.id)).resolves.toMatchObject({ fingerprint: 'fp-1' });
    const machines = [];
    for await (const found of client.machines.list({ licenseId: license.id })) {
      machines.push(found.id);
    }
    expect(machines).toEqual([machine.id]);
    await client.machines.deactivate(machine.id);
    await expect(client.machines.get(machine.id)).rejects.toMatchObject({ status: 404 });

    const jwks = await createTesseraClient({ baseUrl: tessera.baseUrl }).keys();
    expect(jwks.keys.length).toBeGreaterThan(0);
    expect(jwks.keys[0]).toMatchObject({ kid: expect.any(String), use: 'sig' });
  });

  it('turns problem documents into TesseraApiError with status, code and detail', async () => {
    const client = tessera.client();
    const missing = await client.licenses
      .get('00000000-0000-4000-8000-000000000000')
      .catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(TesseraApiError);
    expect(missing).toMatchObject({ status: 404, code: 'LICENSE_NOT_FOUND' });
    expect((missing as TesseraApiError).detail).toEqual(expect.any(String));

    const invalid = await client.licenses
      .create({ policyId: 'not-a-uuid', customerId: 'nor-this' })
      .catch((error: unknown) => error);
    expect(invalid).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
    expect((invalid as TesseraApiError).errors.length).toBeGreaterThan(0);

    const stranger = createTesseraClient({ baseUrl: tessera.baseUrl, apiKey: 'tsk_live_nope' });
    await expect(
      stranger.licenses.get(missing ? '00000000-0000-4000-8000-000000000000' : ''),
    ).rejects.toMatchObject({
      status: 401,
      code: 'UNAUTHENTICATED',
    });
  });

  it('retries a mutation whose answer was lost with the same Idempotency-Key: it happens once', async () => {
    const client = tessera.client();
    const catalog = await newCatalog(client);
    const proxy = await proxied();
    let dropped = false;
    proxy.handler = async (request, forward) => {
      const answer = await forward(request);
      if (request.method === 'POST' && request.path === '/v1/licenses' && !dropped) {
        dropped = true;
        return 'drop'; // the server issued the license; the answer never arrives
      }
      return answer;
    };
    const viaProxy = createTesseraClient({
      baseUrl: proxy.url,
      apiKey: tessera.apiKey,
      baseDelayMs: 10,
    });
    const issued = await viaProxy.licenses.create({
      policyId: catalog.policyId,
      customerId: catalog.customerId,
    });

    const posts = proxy.exchanges.filter((e) => e.method === 'POST');
    expect(posts).toHaveLength(2);
    expect(posts[0].headers['idempotency-key']).toMatch(/^sdk-/);
    expect(posts[1].headers['idempotency-key']).toBe(posts[0].headers['idempotency-key']);
    const all = [];
    for await (const license of client.licenses.list({ customerId: catalog.customerId })) {
      all.push(license.id);
    }
    expect(all).toEqual([issued.id]);
  });

  it('waits out a 429 for its Retry-After, and reports it when the retries run out', async () => {
    const client = tessera.client();
    const catalog = await newCatalog(client);
    const proxy = await proxied();
    let limited = 1;
    const tooMany = {
      status: 429,
      headers: { 'content-type': 'application/problem+json', 'retry-after': '1' },
      body: Buffer.from(JSON.stringify({ status: 429, code: 'RATE_LIMITED', detail: 'slow down' })),
    };
    proxy.handler = async (request, forward) => (limited-- > 0 ? tooMany : forward(request));
    const viaProxy = createTesseraClient({ baseUrl: proxy.url, apiKey: tessera.apiKey });
    const started = Date.now();
    await expect(
      viaProxy.licenses.list({ policyId: catalog.policyId }).next(),
    ).resolves.toMatchObject({
      done: true,
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);

    limited = 10;
    const impatient = createTesseraClient({
      baseUrl: proxy.url,
      apiKey: tessera.apiKey,
      retries: 0,
    });
    await expect(impatient.licenses.get(catalog.policyId)).rejects.toMatchObject({
      status: 429,
      code: 'RATE_LIMITED',
      retryAfter: 1,
    });
  });

  it('says the server cannot be reached after retrying network errors', async () => {
    const proxy = await proxied();
    proxy.handler = () => Promise.resolve('drop');
    const client = createTesseraClient({
      baseUrl: proxy.url,
      apiKey: tessera.apiKey,
      retries: 2,
      baseDelayMs: 5,
    });
    await expect(client.keys()).rejects.toBeInstanceOf(TesseraNetworkError);
    expect(proxy.exchanges).toHaveLength(3);
  });
});
