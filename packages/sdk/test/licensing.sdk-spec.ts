import type { JSONWebKeySet } from 'jose';

import { createTesseraClient } from '../src/client.js';
import type { TesseraClient } from '../src/client.js';
import { TesseraApiError, TesseraSignatureError } from '../src/errors.js';
import { Licensing } from '../src/licensing.js';
import { MemoryStore } from '../src/store.js';
import { Proxy } from './support/proxy.js';
import type { Answer, Exchange } from './support/proxy.js';
import { newCatalog, RunningTessera } from './support/tessera.js';
import type { Fixture } from './support/tessera.js';

/** In-app licensing against a real Tessera: every answer's signature and bindings, machines, heartbeats. */
describe('Licensing (online)', () => {
  let tessera: RunningTessera;
  let client: TesseraClient;
  let catalog: Fixture;
  let jwks: JSONWebKeySet;
  const proxies: Proxy[] = [];

  beforeAll(async () => {
    tessera = await RunningTessera.start();
    client = tessera.client();
    catalog = await newCatalog(client, { floating: true, maxMachines: 3 });
    jwks = await createTesseraClient({ baseUrl: tessera.baseUrl }).keys();
  });
  afterAll(async () => {
    await tessera.stop();
  });
  afterEach(async () => {
    await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
  });

  const newKey = async (): Promise<string> =>
    (await client.licenses.create({ policyId: catalog.policyId, customerId: catalog.customerId }))
      .key;

  /** Licensing through a proxy that does `change` to validation traffic. */
  const through = async (handler: Proxy['handler']): Promise<Licensing> => {
    const proxy = await new Proxy(tessera.baseUrl).start();
    proxies.push(proxy);
    proxy.handler = handler;
    return new Licensing({ baseUrl: proxy.url, jwks, retries: 0 });
  };
  const isValidation = (request: Exchange): boolean =>
    request.path === '/v1/licenses/actions/validate-key';

  it('validates with a checked signature, and reports the decision with its code', async () => {
    const key = await newKey();
    const licensing = new Licensing({ baseUrl: tessera.baseUrl });
    const fresh = await licensing.validate(key, { scope: { fingerprint: 'fp-a' } });
    expect(fresh).toMatchObject({ valid: false, code: 'NO_MACHINES', source: 'online' });

    await licensing.activate(key, { fingerprint: 'fp-a', name: 'laptop', platform: 'linux' });
    const valid = await licensing.validate(key, {
      scope: { fingerprint: 'fp-a', product: catalog.productCode },
    });
    expect(valid).toMatchObject({
      valid: true,
      code: 'VALID',
      source: 'online',
      clockTampered: false,
      license: { status: 'ACTIVE', policy: { product: catalog.productCode } },
    });
    expect(valid.validatedAt!.getTime()).toBeGreaterThan(Date.now() - 60_000);

    const unknown = await licensing.validate('AAAAA-BBBBB-CCCCC-DDDDD-EEEEE-FFFFF');
    expect(unknown).toMatchObject({ valid: false, code: 'NOT_FOUND', license: null });
  });

  it('refuses an answer with one byte changed, or made to read valid', async () => {
    const flipped = await through(async (request, forward) => {
      const answer = await forward(request);
      if (isValidation(request)) {
        answer.body[Math.floor(answer.body.length / 2)] ^= 0x01;
      }
      return answer;
    });
    await expect(flipped.validate(await newKey())).rejects.toBeInstanceOf(TesseraSignatureError);

    const forged = await through(async (request, forward) => {
      const answer = await forward(request);
      if (isValidation(request)) {
        const body = answer.body.toString().replace('"valid":false', '"valid":true');
        return { ...answer, body: Buffer.from(body.replace('"NOT_FOUND"', '"VALID"')) };
      }
      return answer;
    });
    await expect(forged.validate('AAAAA-BBBBB-CCCCC-DDDDD-EEEEE-FFFFF')).rejects.toThrow(
      /signature does not verify/,
    );
  });

  it('refuses an answer whose signature header is missing or signed by an unknown key', async () => {
    const key = await newKey();
    const stripped = await through(async (request, forward) => {
      const answer = await forward(request);
      delete answer.headers['tessera-signature'];
      return answer;
    });
    await expect(stripped.validate(key)).rejects.toThrow(/no valid Tessera-Signature/);

    const otherKeys = new Licensing({
      baseUrl: tessera.baseUrl,
      jwks: { keys: jwks.keys.map((jwk) => ({ ...jwk, kid: `${jwk.kid}-other` })) },
    });
    await expect(otherKeys.validate(key)).rejects.toBeInstanceOf(TesseraSignatureError);
  });

  it('refuses a valid answer for another scope (the proxy dropped the fingerprint)', async () => {
    const key = await newKey();
    const licensing = await through(async (request, forward) => {
      if (!isValidation(request)) {
        return forward(request);
      }
      const body = JSON.parse(request.body.toString());
      delete body.scope;
      return forward({ ...request, body: Buffer.from(JSON.stringify(body)) });
    });
    await expect(licensing.validate(key, { scope: { fingerprint: 'fp-z' } })).rejects.toThrow(
      /another scope/,
    );
  });

  it('refuses a replayed answer (old nonce) and an answer about another key', async () => {
    const key = await newKey();
    const otherKey = await newKey();
    let recorded: Answer | undefined;
    const replaying = await through(async (request, forward) => {
      if (isValidation(request) && recorded !== undefined) {
        return recorded;
      }
      const answer = await forward(request);
      recorded = isValidation(request) ? answer : undefined;
      return answer;
    });
    await expect(replaying.validate(key)).resolves.toMatchObject({ code: 'VALID' });
    await expect(replaying.validate(key)).rejects.toThrow(/nonce/);

    const swapping = await through(async (request, forward) => {
      if (!isValidation(request)) {
        return forward(request);
      }
      const body = JSON.parse(request.body.toString());
      return forward({
        ...request,
        body: Buffer.from(JSON.stringify({ ...body, key: otherKey })),
      });
    });
    await expect(swapping.validate('AAAAA-BBBBB-CCCCC-DDDDD-EEEEE-FFFFF')).rejects.toThrow(
      /another license key/,
    );
  });

  it('refetches the JWKS when an answer names a kid it has not seen (a rotation)', async () => {
    const key = await newKey();
    const store = new MemoryStore();
    await store.set(
      'jwks',
      JSON.stringify({ keys: jwks.keys.map((jwk) => ({ ...jwk, kid: `${jwk.kid}-stale` })) }),
    );
    const licensing = new Licensing({ baseUrl: tessera.baseUrl, store });
    await expect(licensing.validate(key)).resolves.toMatchObject({ code: 'VALID' });
    expect(JSON.parse((await store.get('jwks'))!)).toEqual(jwks);
  });

  it('activates, beats and deactivates a machine with the key alone', async () => {
    const key = await newKey();
    const licensing = new Licensing({ baseUrl: tessera.baseUrl, jwks });
    const machine = await licensing.activate(key, { fingerprint: 'fp-hb', cores: 8 });
    expect(machine).toMatchObject({ fingerprint: 'fp-hb', lastHeartbeatAt: null });

    let beats = 0;
    const loop = licensing.startHeartbeat(key, 'fp-hb', {
      intervalMs: 50,
      onBeat: () => beats++,
    });
    while (beats < 3) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await loop.stop();
    const stoppedAt = beats;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(beats).toBe(stoppedAt);
    expect((await client.machines.get(machine.id)).lastHeartbeatAt).not.toBeNull();

    await licensing.deactivate(key, 'fp-hb');
    await expect(client.machines.get(machine.id)).rejects.toMatchObject({ status: 404 });
    await expect(licensing.deactivate(key, 'fp-hb')).rejects.toMatchObject({
      status: 404,
      code: 'MACHINE_NOT_FOUND',
    });
    await expect(licensing.activate('NOT-A-KEY', { fingerprint: 'x' })).rejects.toMatchObject({
      status: 401,
      code: 'INVALID_LICENSE_KEY',
    });
  });

  it('keeps beating through failures with backoff, reporting them, and still stops cleanly', async () => {
    const key = await newKey();
    const licensing = new Licensing({ baseUrl: tessera.baseUrl, jwks });
    const failures: number[] = [];
    const loop = licensing.startHeartbeat(key, 'never-activated', {
      intervalMs: 1_000,
      retryBaseMs: 20,
      onError: (error, count) => {
        expect(error).toBeInstanceOf(TesseraApiError);
        failures.push(count);
      },
    });
    while (failures.length < 3) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await loop.stop();
    expect(failures.slice(0, 3)).toEqual([1, 2, 3]);
  });

  it('checks out an encrypted license file and reads its entitlements offline', async () => {
    const withEntitlements = await newCatalog(client, {
      entitlements: [`feature.pdf-${Date.now()}`],
    });
    const { key } = await client.licenses.create({
      policyId: withEntitlements.policyId,
      customerId: withEntitlements.customerId,
    });
    const licensing = new Licensing({ baseUrl: tessera.baseUrl, jwks });
    const file = await licensing.checkOut(key, { encrypt: true, ttl: 7200 });
    expect(file.certificate).toContain('BEGIN TESSERA LICENSE FILE');
    expect(file.license.status).toBe('ACTIVE');
    expect(file.entitlements).toEqual([expect.stringMatching(/^feature\.pdf-/)]);
    expect(file.expiresAt.getTime() - file.issuedAt.getTime()).toBe(7200_000);
    await expect(licensing.entitlements(key)).resolves.toEqual(file.entitlements);
    // Without the key it cannot be read; with another key it does not decrypt.
    await expect(licensing.verifyLicenseFile(file.certificate)).rejects.toThrow(/license key/);
    await expect(
      licensing.verifyLicenseFile(file.certificate, { licenseKey: await newKey() }),
    ).rejects.toThrow(/cannot decrypt/);
  });
});
