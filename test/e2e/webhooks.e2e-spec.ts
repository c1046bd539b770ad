import { createPublicKey, randomUUID, verify } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';

import { Webhook } from 'standardwebhooks';
import { DataSource } from 'typeorm';

import { Role } from 'src/platform/auth/roles';
import { api, controlClock, signedInAdmin } from 'test/e2e/admin-session';
import type { AdminSession } from 'test/e2e/admin-session';
import { startTestApp } from 'test/e2e/test-app';
import type { TestApp } from 'test/e2e/test-app';
import { rfc6238 } from 'test/support/rfc6238';
import {
  LOOPBACK_WEBHOOKS_ENV,
  startWebhookReceiver,
  webhookHeaders,
} from 'test/support/webhook-receiver';
import type { ReceivedWebhook, WebhookReceiver } from 'test/support/webhook-receiver';

/** Endpoints over the API, with the dispatcher running as in production (NOTIFY + polling). */
describe('webhook endpoints', () => {
  let t: TestApp;
  let owner: AdminSession;
  let clock: ReturnType<typeof controlClock>;
  let call: ReturnType<typeof api>;
  let receiver: WebhookReceiver;

  const as = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
    call(method, path, { token: owner.accessToken, body, headers });
  const newEndpoint = async (body: Record<string, unknown>) => {
    const response = await as('POST', '/v1/webhook-endpoints', body);
    expect(response.status).toBe(201);
    return response.body as { id: string; secret: string; version: number };
  };
  const receivedAt = (path: string) => (r: ReceivedWebhook[]) => r.filter((x) => x.path === path);

  beforeAll(async () => {
    t = await startTestApp({
      env: {
        ...LOOPBACK_WEBHOOKS_ENV,
        WEBHOOK_POLL_INTERVAL_MS: '250',
        RATE_LIMIT_ADMIN_PER_MINUTE: '100000',
        RATE_LIMIT_AUTH_PER_MINUTE: '1000',
      },
    });
    call = api(t);
    clock = controlClock(t);
    owner = await signedInAdmin(t, [Role.Owner], { mfa: true, clock });
    receiver = await startWebhookReceiver();
  });
  afterAll(async () => {
    await t.close();
    await receiver.close();
  });

  it('creates an endpoint whose secret is shown once and never stored in plain text', async () => {
    const created = await as('POST', '/v1/webhook-endpoints', {
      url: `${receiver.url}/crud`,
      description: 'Billing sync',
      eventTypes: ['license.*', 'customer.erased'],
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      url: `${receiver.url}/crud`,
      description: 'Billing sync',
      eventTypes: ['license.*', 'customer.erased'],
      enabled: true,
      disabledAt: null,
      payloadVersion: '1',
      signEd25519: false,
      version: 1,
    });
    const secret = created.body.secret as string;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(() => new Webhook(secret)).not.toThrow();

    const read = await as('GET', `/v1/webhook-endpoints/${created.body.id}`);
    expect(read.status).toBe(200);
    expect(read.headers.get('etag')).toBe('W/"1"');
    expect(read.body).not.toHaveProperty('secret');
    const list = await as('GET', '/v1/webhook-endpoints?limit=100');
    expect(JSON.stringify(list.body)).not.toContain(secret.slice(6));

    const [row] = await t.app
      .get(DataSource)
      .query<{ secret_sealed: string }[]>(
        `SELECT secret_sealed FROM webhook_endpoints WHERE id = $1`,
        [created.body.id],
      );
    expect(row.secret_sealed).toMatch(/^v1\./);
    expect(row.secret_sealed).not.toContain(secret.slice(6));

    const audit = await as(
      'GET',
      `/v1/audit/events?action=webhook-endpoint.created&targetId=${created.body.id}`,
    );
    expect(audit.body.data).toHaveLength(1);
    expect(audit.body.data[0]).toMatchObject({ actorId: owner.id, targetType: 'webhook-endpoint' });
    expect(JSON.stringify(audit.body)).not.toContain(secret.slice(6));
  });

  it('accepts a secret brought from another system, and refuses malformed ones', async () => {
    const own = `whsec_${Buffer.alloc(24, 7).toString('base64')}`;
    expect((await newEndpoint({ url: `${receiver.url}/own`, secret: own })).secret).toBe(own);
    for (const secret of [
      'whsec_c2hvcnQ=',
      'not-a-secret',
      `whsec_${Buffer.alloc(65).toString('base64')}`,
    ]) {
      const refused = await as('POST', '/v1/webhook-endpoints', {
        url: `${receiver.url}/x`,
        secret,
      });
      expect(refused.status).toBe(422);
      expect(refused.body.code).toBe('INVALID_WEBHOOK_SECRET');
    }
  });

  it.each([
    [{}, 400, 'VALIDATION_FAILED'],
    [{ url: 42 }, 400, 'VALIDATION_FAILED'],
    [{ url: 'https://example.com/h', eventTypes: [] }, 400, 'VALIDATION_FAILED'],
    [{ url: 'https://example.com/h', eventTypes: ['License Suspended'] }, 400, 'VALIDATION_FAILED'],
    [{ url: 'https://example.com/h', eventTypes: ['a.b', 'a.b'] }, 400, 'VALIDATION_FAILED'],
    [{ url: 'https://example.com/h', payloadVersion: '2' }, 400, 'VALIDATION_FAILED'],
    [{ url: 'https://example.com/h', enabled: 'yes' }, 400, 'VALIDATION_FAILED'],
    [{ url: 'https://example.com/h', surprise: true }, 400, 'VALIDATION_FAILED'],
    [{ url: 'not a url' }, 422, 'INVALID_WEBHOOK_URL'],
    [{ url: 'http://example.com/h' }, 422, 'INVALID_WEBHOOK_URL'],
    [{ url: 'ftp://example.com/h' }, 422, 'INVALID_WEBHOOK_URL'],
    [{ url: 'https://user:pw@example.com/h' }, 422, 'INVALID_WEBHOOK_URL'],
    [{ url: 'https://10.1.2.3/h' }, 422, 'WEBHOOK_ADDRESS_FORBIDDEN'],
    [{ url: 'https://169.254.169.254/latest/meta-data/' }, 422, 'WEBHOOK_ADDRESS_FORBIDDEN'],
    [{ url: 'https://[fd00:ec2::254]/' }, 422, 'WEBHOOK_ADDRESS_FORBIDDEN'],
    [{ url: 'https://[::ffff:0:a9fe:a9fe]/' }, 422, 'WEBHOOK_ADDRESS_FORBIDDEN'],
    [{ url: 'http://127.0.0.2:8080/h' }, 422, 'WEBHOOK_ADDRESS_FORBIDDEN'],
    [{ url: 'https://192.168.0.10/h' }, 422, 'WEBHOOK_ADDRESS_FORBIDDEN'],
  ])('refuses %j with %i %s', async (body, status, code) => {
    const response = await as('POST', '/v1/webhook-endpoints', body);
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(response.body.code).toBe(code);
  });

  it('updates with If-Match, refuses stale or missing ETags, and deletes', async () => {
    const { id } = await newEndpoint({ url: `${receiver.url}/patch` });
    expect((await as('PATCH', `/v1/webhook-endpoints/${id}`, { description: 'x' })).status).toBe(
      428,
    );
    expect(
      (
        await as(
          'PATCH',
          `/v1/webhook-endpoints/${id}`,
          { description: 'x' },
          { 'if-match': 'W/"9"' },
        )
      ).body.code,
    ).toBe('STALE_VERSION');
    const patched = await as(
      'PATCH',
      `/v1/webhook-endpoints/${id}`,
      { description: 'Renamed', eventTypes: ['customer.*'] },
      { 'if-match': 'W/"1"' },
    );
    expect(patched.status).toBe(200);
    expect(patched.headers.get('etag')).toBe('W/"2"');
    expect(patched.body).toMatchObject({ description: 'Renamed', eventTypes: ['customer.*'] });
    const forbidden = await as(
      'PATCH',
      `/v1/webhook-endpoints/${id}`,
      { url: 'https://10.0.0.1/h' },
      { 'if-match': 'W/"2"' },
    );
    expect(forbidden.body.code).toBe('WEBHOOK_ADDRESS_FORBIDDEN');
    const disabled = await as(
      'PATCH',
      `/v1/webhook-endpoints/${id}`,
      { enabled: false },
      { 'if-match': 'W/"2"' },
    );
    expect(disabled.body).toMatchObject({ enabled: false, disabledReason: 'manual', version: 3 });
    expect(disabled.body.disabledAt).not.toBeNull();
    const enabled = await as(
      'PATCH',
      `/v1/webhook-endpoints/${id}`,
      { enabled: true, description: null },
      { 'if-match': 'W/"3"' },
    );
    expect(enabled.body).toMatchObject({ enabled: true, disabledReason: null, description: null });

    const filtered = await as('GET', '/v1/webhook-endpoints?enabled=true&limit=100');
    expect(filtered.body.data.map((e: { id: string }) => e.id)).toContain(id);
    expect(filtered.body.data.every((e: { enabled: boolean }) => e.enabled)).toBe(true);
    expect((await as('GET', '/v1/webhook-endpoints?enabled=maybe')).status).toBe(400);

    expect((await as('DELETE', `/v1/webhook-endpoints/${id}`)).status).toBe(204);
    const gone = await as('GET', `/v1/webhook-endpoints/${id}`);
    expect(gone.status).toBe(404);
    expect(gone.body.code).toBe('WEBHOOK_ENDPOINT_NOT_FOUND');
    expect((await as('GET', '/v1/webhook-endpoints/not-a-uuid')).status).toBe(400);
    const actions = await as('GET', `/v1/audit/events?targetId=${id}`);
    expect(actions.body.data.map((e: { action: string }) => e.action).reverse()).toEqual([
      'webhook-endpoint.created',
      'webhook-endpoint.updated',
      'webhook-endpoint.updated',
      'webhook-endpoint.updated',
      'webhook-endpoint.deleted',
    ]);
  });

  it('pages through endpoints with a cursor', async () => {
    for (let i = 0; i < 3; i += 1) {
      await newEndpoint({ url: `${receiver.url}/page-${i}` });
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor === null ? '' : `&cursor=${cursor}`;
      const pageOf = await as('GET', `/v1/webhook-endpoints?limit=2${query}`);
      expect(pageOf.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...pageOf.body.data.map((e: { id: string }) => e.id));
      cursor = pageOf.body.nextCursor;
    } while (cursor !== null);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.length).toBeGreaterThanOrEqual(3);
  });

  it('lets readers look but not change, and needs MFA step-up to rotate a secret', async () => {
    const support = await signedInAdmin(t, [Role.Support], { clock });
    const { id } = await newEndpoint({ url: `${receiver.url}/perm` });
    expect(
      (await call('GET', `/v1/webhook-endpoints/${id}`, { token: support.accessToken })).status,
    ).toBe(200);
    const denied = await call('POST', '/v1/webhook-endpoints', {
      token: support.accessToken,
      body: { url: `${receiver.url}/nope` },
    });
    expect(denied.status).toBe(403);
    expect(denied.body.code).toBe('PERMISSION_DENIED');
    const developer = await signedInAdmin(t, [Role.Developer], { clock });
    const noMfa = await call('POST', `/v1/webhook-endpoints/${id}/actions/rotate-secret`, {
      token: developer.accessToken,
      body: {},
    });
    expect(noMfa.status).toBe(403);
    expect(noMfa.body.code).toBe('MFA_STEP_UP_REQUIRED');
  });

  it('delivers events signed so that the standardwebhooks library verifies them', async () => {
    const endpoint = await newEndpoint({
      url: `${receiver.url}/customers`,
      eventTypes: ['customer.*'],
    });
    const customer = await as('POST', '/v1/customers', {
      name: 'Initech',
      email: `billing-${randomUUID().slice(0, 6)}@initech.example`,
    });
    expect(customer.status).toBe(201);
    await receiver.waitFor((r) => receivedAt('/customers')(r).length >= 1);

    const [request] = receivedAt('/customers')(receiver.received);
    const payload = new Webhook(endpoint.secret).verify(
      request.body,
      webhookHeaders(request),
    ) as Record<string, any>;
    expect(payload).toEqual({
      id: expect.any(String),
      type: 'customer.created',
      timestamp: expect.any(String),
      sequence: 1,
      aggregate: { type: 'customer', id: customer.body.id },
      data: expect.objectContaining({ id: customer.body.id, name: 'Initech' }),
    });
    expect(request.headers['webhook-id']).toBe(`msg_${payload.id}`);
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['user-agent']).toMatch(/^Tessera-Webhooks\//);
    expect(() =>
      new Webhook(`whsec_${Buffer.alloc(32, 9).toString('base64')}`).verify(
        request.body,
        webhookHeaders(request),
      ),
    ).toThrow();

    const deliveries = await as('GET', `/v1/webhook-endpoints/${endpoint.id}/deliveries`);
    expect(deliveries.status).toBe(200);
    expect(deliveries.body.data).toEqual([
      expect.objectContaining({
        eventId: payload.id,
        eventType: 'customer.created',
        webhookId: `msg_${payload.id}`,
        status: 'delivered',
        attempts: 1,
        lastStatusCode: 200,
      }),
    ]);
    const detail = await as('GET', `/v1/webhook-deliveries/${deliveries.body.data[0].id}`);
    expect(detail.body.attemptLog).toEqual([
      expect.objectContaining({
        attempt: 1,
        statusCode: 200,
        responseBody: 'ok',
        errorClass: null,
        succeeded: true,
        durationMs: expect.any(Number),
      }),
    ]);
    const filtered = await as(
      'GET',
      `/v1/webhook-endpoints/${endpoint.id}/deliveries?status=failed`,
    );
    expect(filtered.body.data).toEqual([]);
    expect(
      (await as('GET', `/v1/webhook-endpoints/${endpoint.id}/deliveries?status=odd`)).status,
    ).toBe(400);
    expect((await as('GET', `/v1/webhook-deliveries/${randomUUID()}`)).body.code).toBe(
      'WEBHOOK_DELIVERY_NOT_FOUND',
    );
  });

  it("numbers each license's events 1, 2, 3… in commit order, whatever order they arrive in", async () => {
    const endpoint = await newEndpoint({
      url: `${receiver.url}/licenses`,
      eventTypes: ['license.*'],
    });
    const product = await as('POST', '/v1/products', {
      name: 'Acme',
      code: `acme-${randomUUID().slice(0, 6)}`,
    });
    const policy = await as('POST', '/v1/policies', {
      productId: product.body.id,
      name: 'Yearly',
      durationSeconds: 365 * 86_400,
    });
    const customer = await as('POST', '/v1/customers', {
      name: 'Globex',
      email: `it-${randomUUID().slice(0, 6)}@globex.example`,
    });
    const license = await as('POST', '/v1/licenses', {
      policyId: policy.body.id,
      customerId: customer.body.id,
    });
    expect(license.status).toBe(201);
    const id = license.body.id as string;
    const actions = ['suspend', 'reinstate', 'renew', 'check-in', 'suspend', 'reinstate', 'revoke'];
    for (const action of actions) {
      expect((await as('POST', `/v1/licenses/${id}/actions/${action}`)).status).toBe(200);
    }
    const expected = ['license.created', ...actions.map((a) => pastTense(a))];
    const ofLicense = (r: ReceivedWebhook[]) =>
      receivedAt('/licenses')(r).filter((x) => x.body.includes(id));
    await receiver.waitFor((r) => ofLicense(r).length >= expected.length);

    const payloads = ofLicense(receiver.received).map(
      (request) =>
        new Webhook(endpoint.secret).verify(request.body, webhookHeaders(request)) as Record<
          string,
          any
        >,
    );
    expect(payloads).toHaveLength(expected.length);
    const ordered = [...payloads].sort((x, y) => x.sequence - y.sequence);
    expect(ordered.map((p) => p.sequence)).toEqual(expected.map((_, i) => i + 1));
    expect(ordered.map((p) => p.type)).toEqual(expected);
    expect(ordered.every((p) => p.aggregate.type === 'license' && p.aggregate.id === id)).toBe(
      true,
    );
    expect(ordered.at(-1)!.data.status).toBe('REVOKED');
  });

  it('sends a test event to one endpoint only', async () => {
    const target = await newEndpoint({ url: `${receiver.url}/test-target`, eventTypes: ['*'] });
    const bystander = await newEndpoint({ url: `${receiver.url}/bystander`, eventTypes: ['*'] });
    const sent = await as('POST', `/v1/webhook-endpoints/${target.id}/actions/send-test`, {
      data: { hello: 'world' },
    });
    expect(sent.status).toBe(202);
    expect(sent.body).toMatchObject({ eventType: 'webhook.test', status: 'pending', attempts: 0 });
    await receiver.waitFor((r) =>
      receivedAt('/test-target')(r).some((x) => x.body.includes('webhook.test')),
    );
    const test = receivedAt('/test-target')(receiver.received).find((x) =>
      x.body.includes('webhook.test'),
    )!;
    expect(new Webhook(target.secret).verify(test.body, webhookHeaders(test))).toMatchObject({
      type: 'webhook.test',
      data: { hello: 'world' },
      aggregate: { type: 'webhook-test', id: target.id },
    });
    // The bystander (subscribed to everything) heard of the target's creation, never of its test.
    await new Promise((resolve) => setTimeout(resolve, 600));
    const heard = receivedAt('/bystander')(receiver.received).map((x) => JSON.parse(x.body).type);
    expect(heard).not.toContain('webhook.test');
    expect(bystander.id).not.toBe(target.id);
    expect(
      (await as('POST', `/v1/webhook-endpoints/${randomUUID()}/actions/send-test`, {})).status,
    ).toBe(404);
  });

  it('adds an Ed25519 signature (v1a) that verifies with node:crypto and the public JWKS', async () => {
    const endpoint = await newEndpoint({
      url: `${receiver.url}/ed25519`,
      eventTypes: ['customer.erased'],
      signEd25519: true,
    });
    expect(
      (await as('POST', `/v1/webhook-endpoints/${endpoint.id}/actions/send-test`, {})).status,
    ).toBe(202);
    await receiver.waitFor((r) => receivedAt('/ed25519')(r).length >= 1);
    const [request] = receivedAt('/ed25519')(receiver.received);
    const signatures = String(request.headers['webhook-signature']).split(' ');
    expect(signatures.map((s) => s.split(',')[0])).toEqual(['v1', 'v1a']);
    // The symmetric signature still verifies with the reference library, which skips v1a entries.
    expect(
      new Webhook(endpoint.secret).verify(request.body, webhookHeaders(request)),
    ).toMatchObject({
      type: 'webhook.test',
    });

    const kid = String(request.headers['webhook-signature-kid']);
    const jwks = await call('GET', '/v1/keys');
    expect(jwks.status).toBe(200);
    const jwk = (jwks.body.keys as Array<Record<string, string>>).find((k) => k.kid === kid);
    expect(jwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA' });
    const publicKey = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
    const content = Buffer.from(
      `${String(request.headers['webhook-id'])}.${String(request.headers['webhook-timestamp'])}.${request.body}`,
    );
    const v1a = Buffer.from(signatures[1].slice('v1a,'.length), 'base64');
    expect(verify(null, content, publicKey, v1a)).toBe(true);
    expect(verify(null, Buffer.concat([content, Buffer.from(' ')]), publicKey, v1a)).toBe(false);

    // Without the option, no v1a and no key id.
    const plain = await newEndpoint({
      url: `${receiver.url}/plain`,
      eventTypes: ['customer.erased'],
    });
    await as('POST', `/v1/webhook-endpoints/${plain.id}/actions/send-test`, {});
    await receiver.waitFor((r) => receivedAt('/plain')(r).length >= 1);
    const [unsigned] = receivedAt('/plain')(receiver.received);
    expect(String(unsigned.headers['webhook-signature'])).toMatch(/^v1,[^ ]+$/);
    expect(unsigned.headers['webhook-signature-kid']).toBeUndefined();
  });

  it('rotates the secret: both secrets verify during the overlap, then only the new one', async () => {
    const endpoint = await newEndpoint({
      url: `${receiver.url}/rotation`,
      eventTypes: ['customer.erased'],
    });
    const sendTest = async (): Promise<ReceivedWebhook> => {
      const before = receivedAt('/rotation')(receiver.received).length;
      expect(
        (await as('POST', `/v1/webhook-endpoints/${endpoint.id}/actions/send-test`, {})).status,
      ).toBe(202);
      await receiver.waitFor((r) => receivedAt('/rotation')(r).length > before);
      return receivedAt('/rotation')(receiver.received)[before];
    };
    const verifies = (secret: string, request: ReceivedWebhook) => {
      try {
        new Webhook(secret).verify(request.body, webhookHeaders(request));
        return true;
      } catch {
        return false;
      }
    };

    // A fresh MFA session: step-up is recent (enrolment just happened).
    const rotator = await signedInAdmin(t, [Role.Owner], { mfa: true, clock });
    const rotate = () =>
      call('POST', `/v1/webhook-endpoints/${endpoint.id}/actions/rotate-secret`, {
        token: rotator.accessToken,
        body: {},
      });
    const rotated = await rotate();
    expect(rotated.status).toBe(200);
    const next = rotated.body.secret as string;
    expect(next).not.toBe(endpoint.secret);
    expect(
      Date.parse(rotated.body.previousSecretExpiresAt) - clock.now().getTime(),
    ).toBeGreaterThan(23.9 * 3_600_000);

    const during = await sendTest();
    expect(String(during.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(verifies(endpoint.secret, during)).toBe(true);
    expect(verifies(next, during)).toBe(true);

    // 25 hours on, the old secret no longer signs. The receiver's 5-minute tolerance is about its own
    // clock, so the signature is checked with the library's signing function rather than verify().
    clock.advance(25 * 3_600_000);
    const after = await sendTest();
    const signatures = String(after.headers['webhook-signature']).split(' ');
    const expectedWith = (secret: string) =>
      new Webhook(secret).sign(
        String(after.headers['webhook-id']),
        new Date(Number(after.headers['webhook-timestamp']) * 1000),
        after.body,
      );
    expect(signatures).toEqual([expectedWith(next)]);
    expect(signatures).not.toContain(expectedWith(endpoint.secret));
    const read = await as('GET', `/v1/webhook-endpoints/${endpoint.id}`);
    expect(read.body.previousSecretExpiresAt).toBeNull();

    // Past the step-up window, rotating needs a fresh second factor.
    const refused = await rotate();
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('MFA_STEP_UP_REQUIRED');
    const stepUp = await call('POST', '/v1/auth/mfa/step-up', {
      token: rotator.accessToken,
      body: { code: rfc6238(rotator.totpSecret!, clock.now()) },
    });
    expect(stepUp.status).toBe(200);
    expect((await rotate()).status).toBe(200);
    const rotations = await as(
      'GET',
      `/v1/audit/events?action=webhook-endpoint.secret-rotated&targetId=${endpoint.id}`,
    );
    expect(rotations.body.data).toHaveLength(2);
    expect(rotations.body.data[0].actorId).toBe(rotator.id);
    expect(JSON.stringify(rotations.body)).not.toContain(next.slice(6));
  });
});

function pastTense(action: string): string {
  const special: Record<string, string> = { 'check-in': 'checked-in' };
  return `license.${special[action] ?? (action.endsWith('e') ? `${action}d` : `${action}ed`)}`;
}
