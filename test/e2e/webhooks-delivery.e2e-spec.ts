import { randomUUID } from 'node:crypto';

import { Webhook } from 'standardwebhooks';
import { DataSource } from 'typeorm';

import { WebhookDeliveryWorker } from 'src/modules/webhooks/webhook-delivery.worker';
import { RETRY_DELAYS_MS } from 'src/modules/webhooks/webhook-schedule';
import { Role } from 'src/platform/auth/roles';
import { api, controlClock, signedInAdmin } from 'test/e2e/admin-session';
import type { AdminSession } from 'test/e2e/admin-session';
import { startTestApp } from 'test/e2e/test-app';
import type { TestApp } from 'test/e2e/test-app';
import { LOOPBACK_WEBHOOKS_ENV, startWebhookReceiver } from 'test/support/webhook-receiver';
import type { ReceivedWebhook, WebhookReceiver } from 'test/support/webhook-receiver';

const MINUTE = 60_000;
const DAY = 86_400_000;

/**
 * Retries, disabling, recovery and the attempt log, with the dispatcher driven by hand (`runOnce`) and
 * time moved by the test. Each test deletes its endpoints, so nothing of it is due in the next one.
 */
describe('webhook delivery', () => {
  let t: TestApp;
  let owner: AdminSession;
  let clock: ReturnType<typeof controlClock>;
  let call: ReturnType<typeof api>;
  let receiver: WebhookReceiver;
  let dispatch: () => Promise<{ dispatched: number; attempted: number }>;
  const created: string[] = [];

  const as = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
    call(method, path, { token: owner.accessToken, body, headers });
  const at = (path: string) => receiver.received.filter((r) => r.path === path);

  async function endpoint(path: string, body: Record<string, unknown> = {}) {
    const response = await as('POST', '/v1/webhook-endpoints', {
      url: `${receiver.url}${path}`,
      eventTypes: ['customer.erased'],
      ...body,
    });
    expect(response.status).toBe(201);
    created.push(response.body.id);
    return response.body as { id: string; secret: string };
  }

  async function sendTest(endpointId: string): Promise<{ id: string; webhookId: string }> {
    const response = await as('POST', `/v1/webhook-endpoints/${endpointId}/actions/send-test`, {});
    expect(response.status).toBe(202);
    return response.body;
  }

  /** The signature the reference library computes for this request is among those it carries. */
  function signedWith(secret: string, request: ReceivedWebhook): boolean {
    const expected = new Webhook(secret).sign(
      String(request.headers['webhook-id']),
      new Date(Number(request.headers['webhook-timestamp']) * 1000),
      request.body,
    );
    return String(request.headers['webhook-signature']).split(' ').includes(expected);
  }

  beforeAll(async () => {
    t = await startTestApp({
      env: {
        ...LOOPBACK_WEBHOOKS_ENV,
        WEBHOOK_DISPATCHER_ENABLED: 'false',
        RATE_LIMIT_ADMIN_PER_MINUTE: '100000',
        RATE_LIMIT_AUTH_PER_MINUTE: '1000',
      },
    });
    call = api(t);
    clock = controlClock(t);
    owner = await signedInAdmin(t, [Role.Owner], { mfa: true, clock });
    receiver = await startWebhookReceiver();
    const worker = t.app.get(WebhookDeliveryWorker);
    dispatch = () => worker.runOnce();
  });
  afterEach(async () => {
    for (const id of created.splice(0)) {
      await as('DELETE', `/v1/webhook-endpoints/${id}`);
    }
    receiver.respond = (_request, res) => res.writeHead(200).end('ok');
  });
  afterAll(async () => {
    await t.close();
    await receiver.close();
  });

  it('refuses, at delivery time, an address the running instance does not allow-list', async () => {
    // Another instance on the same database, whose operator allow-lists nothing.
    const strict = await startTestApp({
      databaseUrl: t.databaseUrl,
      env: { WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_DISPATCHER_ENABLED: 'false' },
    });
    controlClock(strict).advance(clock.now().getTime() - Date.now() + 1_000);
    try {
      const { id } = await endpoint('/ssrf');
      const delivery = await sendTest(id);
      expect((await strict.app.get(WebhookDeliveryWorker).runOnce()).attempted).toBe(1);
      expect(at('/ssrf')).toHaveLength(0);
      const detail = await as('GET', `/v1/webhook-deliveries/${delivery.id}`);
      expect(detail.body).toMatchObject({ status: 'pending', attempts: 1 });
      expect(detail.body.attemptLog).toEqual([
        expect.objectContaining({
          statusCode: null,
          errorClass: 'forbidden-address',
          error: expect.stringContaining('loopback'),
          succeeded: false,
        }),
      ]);
    } finally {
      await strict.close();
    }
  });

  it('retries a failing receiver with the same webhook-id until it succeeds', async () => {
    let failures = 3;
    receiver.respond = (_request, res) => {
      if (failures > 0) {
        failures -= 1;
        res.writeHead(503, { 'content-type': 'text/plain' }).end('maintenance');
      } else {
        res.writeHead(200).end('thanks');
      }
    };
    const { id, secret } = await endpoint('/flaky');
    const delivery = await sendTest(id);

    await dispatch(); // attempt 1 at once
    for (const delay of RETRY_DELAYS_MS.slice(0, 3)) {
      clock.advance(delay * 1.1 + 1_000);
      await dispatch();
    }

    const requests = at('/flaky');
    expect(requests).toHaveLength(4);
    expect(new Set(requests.map((r) => r.headers['webhook-id']))).toEqual(
      new Set([delivery.webhookId]),
    );
    const timestamps = requests.map((r) => Number(r.headers['webhook-timestamp']));
    expect([...timestamps].sort((x, y) => x - y)).toEqual(timestamps);
    expect(new Set(timestamps).size).toBe(4);
    expect(requests.every((r) => signedWith(secret, r))).toBe(true);
    expect(new Set(requests.map((r) => r.body)).size).toBe(1);

    const detail = await as('GET', `/v1/webhook-deliveries/${delivery.id}`);
    expect(detail.body).toMatchObject({ status: 'delivered', attempts: 4, lastStatusCode: 200 });
    expect(
      detail.body.attemptLog.map((a: Record<string, unknown>) => [
        a.attempt,
        a.statusCode,
        a.errorClass,
        a.responseBody,
      ]),
    ).toEqual([
      [1, 503, 'http-status', 'maintenance'],
      [2, 503, 'http-status', 'maintenance'],
      [3, 503, 'http-status', 'maintenance'],
      [4, 200, null, 'thanks'],
    ]);
    // The success ended the failing streak.
    expect((await as('GET', `/v1/webhook-endpoints/${id}`)).body.failingSince).toBeNull();
  });

  it('follows the retry schedule, then gives up after the tenth attempt', async () => {
    receiver.respond = (_request, res) => res.writeHead(500).end();
    const { id } = await endpoint('/down');
    const delivery = await sendTest(id);
    await dispatch();
    expect(at('/down')).toHaveLength(1);

    for (const [i, delay] of RETRY_DELAYS_MS.entries()) {
      const scheduled = (await as('GET', `/v1/webhook-deliveries/${delivery.id}`)).body;
      const wait = Date.parse(scheduled.nextAttemptAt) - Date.parse(scheduled.lastAttemptAt);
      expect(wait).toBeGreaterThanOrEqual(delay * 0.9);
      expect(wait).toBeLessThanOrEqual(delay * 1.1 + 1_000); // + the attempt's own duration
      clock.advance(Math.floor(delay * 0.89));
      await dispatch();
      expect(`retry ${i + 1} early: ${at('/down').length}`).toBe(`retry ${i + 1} early: ${i + 1}`);
      clock.advance(Math.ceil(delay * 0.22));
      await dispatch();
      expect(`retry ${i + 1} due: ${at('/down').length}`).toBe(`retry ${i + 1} due: ${i + 2}`);
    }
    clock.advance(2 * DAY);
    await dispatch();
    expect(at('/down')).toHaveLength(10);
    const detail = await as('GET', `/v1/webhook-deliveries/${delivery.id}`);
    expect(detail.body).toMatchObject({ status: 'failed', attempts: 10, nextAttemptAt: null });
    expect(detail.body.attemptLog).toHaveLength(10);
  });

  it('waits as long as a 429 Retry-After asks', async () => {
    let limited = true;
    receiver.respond = (_request, res) => {
      if (limited) {
        limited = false;
        res.writeHead(429, { 'retry-after': '120' }).end('slow down');
      } else {
        res.writeHead(200).end();
      }
    };
    const { id } = await endpoint('/limited');
    const delivery = await sendTest(id);
    await dispatch();
    const first = await as('GET', `/v1/webhook-deliveries/${delivery.id}`);
    expect(Date.parse(first.body.nextAttemptAt) - clock.now().getTime()).toBeGreaterThan(115_000);

    clock.advance(60_000); // well past the 5 s the schedule alone would wait
    await dispatch();
    expect(at('/limited')).toHaveLength(1);
    clock.advance(61_000);
    await dispatch();
    expect(at('/limited')).toHaveLength(2);
    expect((await as('GET', `/v1/webhook-deliveries/${delivery.id}`)).body.status).toBe(
      'delivered',
    );
  });

  it('disables an endpoint that answers 410 Gone', async () => {
    receiver.respond = (_request, res) => res.writeHead(410).end('gone for good');
    const { id } = await endpoint('/gone');
    const delivery = await sendTest(id);
    await dispatch();

    const read = await as('GET', `/v1/webhook-endpoints/${id}`);
    expect(read.body).toMatchObject({ enabled: false, disabledReason: 'gone', version: 2 });
    expect((await as('GET', `/v1/webhook-deliveries/${delivery.id}`)).body).toMatchObject({
      status: 'failed',
      attempts: 1,
      lastStatusCode: 410,
    });
    const audit = await as(
      'GET',
      `/v1/audit/events?action=webhook-endpoint.disabled&targetId=${id}`,
    );
    expect(audit.body.data).toEqual([
      expect.objectContaining({
        actorType: 'system',
        metadata: expect.objectContaining({ reason: 'gone' }),
      }),
    ]);
    const again = await as('POST', `/v1/webhook-endpoints/${id}/actions/send-test`, {});
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('WEBHOOK_ENDPOINT_DISABLED');
    clock.advance(10 * MINUTE);
    await dispatch();
    expect(at('/gone')).toHaveLength(1);
  });

  it('disables an endpoint failing for five days, with an audit event and a webhook-endpoint.disabled event', async () => {
    receiver.respond = (request, res) =>
      res.writeHead(request.path === '/watcher' ? 200 : 500).end();
    const watcher = await endpoint('/watcher', { eventTypes: ['webhook-endpoint.disabled'] });
    const { id } = await endpoint('/failing');
    await sendTest(id);
    await dispatch();
    const failingSince = (await as('GET', `/v1/webhook-endpoints/${id}`)).body
      .failingSince as string;
    expect(failingSince).not.toBeNull();

    clock.advance(4 * DAY);
    await sendTest(id);
    await dispatch();
    const stillOn = await as('GET', `/v1/webhook-endpoints/${id}`);
    expect(stillOn.body).toMatchObject({ enabled: true, failingSince });

    clock.advance(DAY + MINUTE);
    const last = await sendTest(id);
    await dispatch();
    const off = await as('GET', `/v1/webhook-endpoints/${id}`);
    expect(off.body).toMatchObject({ enabled: false, disabledReason: 'failing' });
    expect((await as('GET', `/v1/webhook-deliveries/${last.id}`)).body.status).toBe('failed');
    const pending = await as('GET', `/v1/webhook-endpoints/${id}/deliveries?status=pending`);
    expect(pending.body.data).toEqual([]);

    const audit = await as(
      'GET',
      `/v1/audit/events?action=webhook-endpoint.disabled&targetId=${id}`,
    );
    expect(audit.body.data).toHaveLength(1);
    expect(audit.body.data[0]).toMatchObject({
      actorType: 'system',
      actorId: null,
      // Whichever failed attempt crossed the line (the last test event's, or an earlier one's retry).
      metadata: { reason: 'failing', failingSince, deliveryId: expect.any(String) },
    });
    const events = await t.app
      .get(DataSource)
      .query<{ type: string }[]>(
        `SELECT type FROM outbox_events WHERE aggregate_id = $1 AND type = 'webhook-endpoint.disabled'`,
        [id],
      );
    expect(events).toHaveLength(1);

    // The event reaches the other endpoints like any other.
    await dispatch();
    const heard = at('/watcher').map((r) => ({
      ok: signedWith(watcher.secret, r),
      ...JSON.parse(r.body),
    }));
    expect(heard).toEqual([
      expect.objectContaining({
        ok: true,
        type: 'webhook-endpoint.disabled',
        data: expect.objectContaining({ id, enabled: false, disabledReason: 'failing' }),
      }),
    ]);
  });

  it('recovers what failed and what was missed while disabled, with the same webhook-ids', async () => {
    let healthy = false;
    receiver.respond = (_request, res) => res.writeHead(healthy ? 200 : 500).end();
    const since = new Date(Date.now() - MINUTE).toISOString();
    const { id } = await endpoint('/recover', { eventTypes: ['customer.*'] });
    const tests = [await sendTest(id), await sendTest(id)];
    await dispatch();
    expect(at('/recover')).toHaveLength(2);
    const off = await as(
      'PATCH',
      `/v1/webhook-endpoints/${id}`,
      { enabled: false },
      { 'if-match': 'W/"1"' },
    );
    expect(off.status).toBe(200);
    for (const test of tests) {
      expect((await as('GET', `/v1/webhook-deliveries/${test.id}`)).body.status).toBe('failed');
    }
    const refused = await as('POST', `/v1/webhook-endpoints/${id}/actions/recover`, { since });
    expect(refused.body.code).toBe('WEBHOOK_ENDPOINT_DISABLED');

    // Missed while disabled: the endpoint is subscribed, but nothing was queued for it.
    const customer = await as('POST', '/v1/customers', {
      name: 'Hooli',
      email: `r-${randomUUID().slice(0, 6)}@hooli.example`,
    });
    await dispatch();
    expect(at('/recover')).toHaveLength(2);

    await as('PATCH', `/v1/webhook-endpoints/${id}`, { enabled: true }, { 'if-match': 'W/"2"' });
    healthy = true;
    for (const bad of [
      { since: new Date(clock.now().getTime() + MINUTE).toISOString() },
      { since: new Date(clock.now().getTime() - 31 * DAY).toISOString() },
    ]) {
      const response = await as('POST', `/v1/webhook-endpoints/${id}/actions/recover`, bad);
      expect(response.status).toBe(422);
      expect(response.body.code).toBe('INVALID_RECOVER_WINDOW');
    }
    expect(
      (await as('POST', `/v1/webhook-endpoints/${id}/actions/recover`, { since: 'yesterday' }))
        .status,
    ).toBe(400);

    const recovered = await as('POST', `/v1/webhook-endpoints/${id}/actions/recover`, { since });
    expect(recovered.status).toBe(202);
    expect(recovered.body).toEqual({ requeued: 2, missed: 1 });
    await dispatch();

    const resent = at('/recover').slice(2);
    const missed = resent.map((r) => JSON.parse(r.body)).find((p) => p.type === 'customer.created');
    expect(missed).toMatchObject({ aggregate: { id: customer.body.id } });
    expect(resent.map((r) => r.headers['webhook-id']).sort()).toEqual(
      [tests[0].webhookId, tests[1].webhookId, `msg_${missed.id}`].sort(),
    );
    for (const test of tests) {
      expect((await as('GET', `/v1/webhook-deliveries/${test.id}`)).body.status).toBe('delivered');
    }
    // Nothing left to recover.
    expect(
      (await as('POST', `/v1/webhook-endpoints/${id}/actions/recover`, { since })).body,
    ).toEqual({
      requeued: 0,
      missed: 0,
    });
    const audit = await as(
      'GET',
      `/v1/audit/events?action=webhook-endpoint.recovered&targetId=${id}`,
    );
    expect(audit.body.data[1].metadata).toMatchObject({ since, requeued: 2, missed: 1 });
  });

  it('retries a single delivery on demand, even a delivered one, as the same message', async () => {
    const { id, secret } = await endpoint('/retry');
    const delivery = await sendTest(id);
    await dispatch();
    expect((await as('GET', `/v1/webhook-deliveries/${delivery.id}`)).body.status).toBe(
      'delivered',
    );

    const retried = await as('POST', `/v1/webhook-deliveries/${delivery.id}/actions/retry`);
    expect(retried.status).toBe(202);
    expect(retried.body).toMatchObject({ status: 'pending', attempts: 0 });
    await dispatch();
    const requests = at('/retry');
    expect(requests.map((r) => r.headers['webhook-id'])).toEqual([
      delivery.webhookId,
      delivery.webhookId,
    ]);
    expect(requests.every((r) => signedWith(secret, r))).toBe(true);
    const detail = await as('GET', `/v1/webhook-deliveries/${delivery.id}`);
    expect(detail.body).toMatchObject({ status: 'delivered', attempts: 1 });
    expect(detail.body.attemptLog).toHaveLength(2);
    const audit = await as(
      'GET',
      `/v1/audit/events?action=webhook-delivery.retried&targetId=${delivery.id}`,
    );
    expect(audit.body.data).toHaveLength(1);

    expect(
      (await as('POST', `/v1/webhook-deliveries/${randomUUID()}/actions/retry`)).body.code,
    ).toBe('WEBHOOK_DELIVERY_NOT_FOUND');
    await as('PATCH', `/v1/webhook-endpoints/${id}`, { enabled: false }, { 'if-match': 'W/"1"' });
    expect(
      (await as('POST', `/v1/webhook-deliveries/${delivery.id}/actions/retry`)).body.code,
    ).toBe('WEBHOOK_ENDPOINT_DISABLED');
  });

  it('refuses to retry a delivery while an attempt of it is running', async () => {
    let release: () => void = () => undefined;
    receiver.respond = (_request, res) => {
      release = () => res.writeHead(200).end();
    };
    const { id } = await endpoint('/busy');
    const delivery = await sendTest(id);
    const running = dispatch();
    await receiver.waitFor((r) => r.some((x) => x.path === '/busy'));
    const busy = await as('POST', `/v1/webhook-deliveries/${delivery.id}/actions/retry`);
    expect(busy.status).toBe(409);
    expect(busy.body.code).toBe('WEBHOOK_DELIVERY_IN_PROGRESS');
    release();
    await running;
    expect((await as('GET', `/v1/webhook-deliveries/${delivery.id}`)).body.status).toBe(
      'delivered',
    );
  });
});
