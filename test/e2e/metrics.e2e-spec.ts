import { randomUUID } from 'node:crypto';

import { DataSource } from 'typeorm';

import { AuditCheckpointService } from 'src/modules/audit-checkpoints/audit-checkpoint.service';
import { UsageFolder } from 'src/modules/reports/usage-folder';
import { SIGNER } from 'src/modules/signing/signer';
import type { Signer } from 'src/modules/signing/signer';
import { WebhookDeliveryWorker } from 'src/modules/webhooks/webhook-delivery.worker';
import { Role } from 'src/platform/auth/roles';
import { Metrics } from 'src/platform/metrics/metrics';
import { MetricsServer } from 'src/platform/metrics/metrics.server';
import { api, controlClock, PASSWORD, signedInAdmin } from 'test/e2e/admin-session';
import type { AdminSession } from 'test/e2e/admin-session';
import { startTestApp } from 'test/e2e/test-app';
import type { TestApp } from 'test/e2e/test-app';
import {
  METRICS_TEST_ENV,
  METRICS_TEST_TOKEN,
  metricsUrl,
  scrape,
} from 'test/support/metrics-scrape';
import type { Exposition } from 'test/support/metrics-scrape';
import { LOOPBACK_WEBHOOKS_ENV, startWebhookReceiver } from 'test/support/webhook-receiver';
import type { WebhookReceiver } from 'test/support/webhook-receiver';

describe('metrics', () => {
  let t: TestApp;
  let owner: AdminSession;
  let call: ReturnType<typeof api>;
  let receiver: WebhookReceiver;

  const as = (method: string, path: string, body?: unknown) =>
    call(method, path, { token: owner.accessToken, body });
  /** How much a sample grew between two scrapes (0 where it is absent from both). */
  const delta = (before: Exposition, after: Exposition, name: string, labels = {}) =>
    (after.value(name, labels) ?? 0) - (before.value(name, labels) ?? 0);

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    t = await startTestApp({
      env: {
        ...METRICS_TEST_ENV,
        ...LOOPBACK_WEBHOOKS_ENV,
        // Driven by hand, so the outbox backlog can be seen before it drains.
        WEBHOOK_DISPATCHER_ENABLED: 'false',
        LOGIN_LOCKOUT_THRESHOLD: '2',
        RATE_LIMIT_ADMIN_PER_MINUTE: '100000',
        RATE_LIMIT_AUTH_PER_MINUTE: '1000',
      },
    });
    call = api(t);
    owner = await signedInAdmin(t, [Role.Owner], { mfa: true, clock: controlClock(t) });
  });
  afterAll(async () => {
    await t.close();
    await receiver.close();
  });

  describe('the metrics listener', () => {
    it('is not part of the public listener', async () => {
      const response = await fetch(`${t.baseUrl}/metrics`);
      expect(response.status).toBe(404);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
    });

    it('refuses a scrape without the token, or with a wrong one, with a 401 problem', async () => {
      for (const headers of [
        {},
        { authorization: 'Bearer wrong-token-0123456789abcdef0123456789' },
        { authorization: `Basic ${METRICS_TEST_TOKEN}` },
        { authorization: `Bearer ${METRICS_TEST_TOKEN}x` },
      ]) {
        const response = await fetch(metricsUrl(t), { headers });
        expect(response.status).toBe(401);
        expect(response.headers.get('www-authenticate')).toBe('Bearer realm="tessera-metrics"');
        expect(response.headers.get('content-type')).toContain('application/problem+json');
        expect((await response.json()) as object).toMatchObject({ code: 'UNAUTHENTICATED' });
      }
    });

    it('serves only GET /metrics', async () => {
      const base = metricsUrl(t).replace('/metrics', '');
      const other = await fetch(`${base}/health/ready`);
      expect(other.status).toBe(404);
      expect((await other.json()) as object).toMatchObject({ code: 'NOT_FOUND' });
      const post = await fetch(metricsUrl(t), {
        method: 'POST',
        headers: { authorization: `Bearer ${METRICS_TEST_TOKEN}` },
      });
      expect(post.status).toBe(405);
      expect(post.headers.get('allow')).toBe('GET, HEAD');
    });

    it('serves the Prometheus text format with the process and Node defaults', async () => {
      const response = await fetch(metricsUrl(t), {
        headers: { authorization: `Bearer ${METRICS_TEST_TOKEN}` },
      });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(response.headers.get('cache-control')).toBe('no-store');
      const text = await response.text();
      for (const name of [
        'process_cpu_seconds_total',
        'process_resident_memory_bytes',
        'nodejs_eventloop_lag_seconds',
        'nodejs_heap_size_used_bytes',
        'tessera_build_info',
      ]) {
        expect(text).toMatch(new RegExp(`^${name}[ {]`, 'm'));
      }
    });
  });

  it('counts HTTP requests by route template and status class, never by raw URL', async () => {
    const before = await scrape(t);
    const id = randomUUID();
    expect((await call('GET', `/v1/licenses/${id}`)).status).toBe(401);
    expect((await as('GET', `/v1/licenses/${id}`)).status).toBe(404);
    expect((await call('GET', `/no-such-route-${id}?q=secret`)).status).toBe(404);
    expect((await call('GET', '/health/live')).status).toBe(200);
    const after = await scrape(t);
    const requests = 'tessera_http_request_duration_seconds_count';
    const route = (r: string, statusClass: string) => ({
      method: 'GET',
      route: r,
      status_class: statusClass,
    });
    expect(delta(before, after, requests, route('/v1/licenses/:id', '4xx'))).toBe(2);
    expect(delta(before, after, requests, route('unmatched', '4xx'))).toBe(1);
    expect(delta(before, after, requests, route('/health/live', '2xx'))).toBe(1);
    expect(after.types.get('tessera_http_request_duration_seconds')).toBe('histogram');
    expect(after.text).not.toContain(id);
    expect(after.text).not.toContain('secret');
  });

  it('counts validations by code, activations and deactivations, and seats per policy', async () => {
    const product = await as('POST', '/v1/products', {
      name: 'Metered',
      code: `metered-${randomUUID().slice(0, 6)}`,
    });
    const policy = await as('POST', '/v1/policies', {
      productId: product.body.id,
      name: 'Three seats',
      maxMachines: 3,
    });
    const customer = await as('POST', '/v1/customers', {
      name: 'Initech',
      email: 'it@initech.example',
    });
    const issue = () =>
      as('POST', '/v1/licenses', { policyId: policy.body.id, customerId: customer.body.id });
    const [first, second] = [(await issue()).body, (await issue()).body];
    const before = await scrape(t);

    const validate = (key: string, fingerprint?: string) =>
      call('POST', '/v1/licenses/actions/validate-key', {
        body: { key, scope: fingerprint === undefined ? undefined : { fingerprint } },
      });
    expect((await validate('AAAAA-BBBBB-CCCCC-DDDDD-EEEEE-FFFFF')).body.code).toBe('NOT_FOUND');
    const machines = [];
    for (const fingerprint of ['fp-1', 'fp-2']) {
      const activated = await as('POST', '/v1/machines', { licenseId: first.id, fingerprint });
      expect(activated.status).toBe(201);
      machines.push(activated.body.id as string);
    }
    expect((await as('DELETE', `/v1/machines/${machines[1]}`)).status).toBe(204);
    expect((await validate(first.key, 'fp-1')).body.code).toBe('VALID');
    expect((await validate(first.key, 'fp-unknown')).body.code).toBe('FINGERPRINT_SCOPE_MISMATCH');
    expect(
      (await as('POST', '/v1/machines', { licenseId: second.id, fingerprint: 'fp-1' })).status,
    ).toBe(201);
    const after = await scrape(t);

    const validations = 'tessera_license_validations_total';
    expect(delta(before, after, validations, { code: 'NOT_FOUND' })).toBe(1);
    expect(delta(before, after, validations, { code: 'VALID' })).toBe(1);
    expect(delta(before, after, validations, { code: 'FINGERPRINT_SCOPE_MISMATCH' })).toBe(1);
    expect(after.value(validations, { code: 'TOO_MANY_MACHINES' })).toBe(0);
    expect(delta(before, after, 'tessera_machine_activations_total')).toBe(3);
    expect(delta(before, after, 'tessera_machine_deactivations_total', { reason: 'manual' })).toBe(
      1,
    );
    const seats = { policy_id: policy.body.id, policy: 'Three seats' };
    expect(after.value('tessera_policy_seats_in_use', seats)).toBe(2);
    expect(after.value('tessera_policy_seats_allowed', seats)).toBe(6);
    // Every validation answer is signed: the signer's operations are counted by backend.
    const signs = { backend: 'software', operation: 'sign' };
    expect(
      delta(before, after, 'tessera_signer_operation_duration_seconds_count', signs),
    ).toBeGreaterThanOrEqual(3);
    expect(after.value('tessera_signer_errors_total', signs)).toBe(0);
  });

  it('counts a failing signer as a signer error and the validation as a 5xx', async () => {
    const signer = t.app.get<Signer>(SIGNER);
    const before = await scrape(t);
    const spy = jest.spyOn(signer, 'sign').mockRejectedValueOnce(new Error('CKR_DEVICE_ERROR'));
    try {
      const response = await call('POST', '/v1/licenses/actions/validate-key', {
        body: { key: 'AAAAA-BBBBB-CCCCC-DDDDD-EEEEE-FFFFF' },
      });
      expect(response.status).toBe(503);
    } finally {
      spy.mockRestore();
    }
    const after = await scrape(t);
    const signs = { backend: 'software', operation: 'sign' };
    expect(delta(before, after, 'tessera_signer_errors_total', signs)).toBe(1);
    expect(
      delta(before, after, 'tessera_http_request_duration_seconds_count', {
        method: 'POST',
        route: '/v1/licenses/actions/validate-key',
        status_class: '5xx',
      }),
    ).toBe(1);
  });

  it('reports an unlimited policy as +Inf seats allowed', async () => {
    const product = await as('POST', '/v1/products', {
      name: 'Site',
      code: `site-${randomUUID().slice(0, 6)}`,
    });
    const policy = await as('POST', '/v1/policies', { productId: product.body.id, name: 'Site' });
    const customer = await as('POST', '/v1/customers', {
      name: 'Umbrella',
      email: 'u@umbrella.example',
    });
    await as('POST', '/v1/licenses', { policyId: policy.body.id, customerId: customer.body.id });
    const after = await scrape(t);
    expect(after.text).toContain(
      `tessera_policy_seats_allowed{policy_id="${policy.body.id}",policy="Site"} +Inf`,
    );
  });

  it('shows the outbox backlog, then webhook attempts, delivery lag and disabled endpoints', async () => {
    const worker = t.app.get(WebhookDeliveryWorker);
    await worker.runOnce(); // earlier tests' events, fanned out to no endpoint
    receiver.respond = (request, res) => {
      res.writeHead(request.path === '/gone' ? 410 : 200).end();
    };
    for (const path of ['/ok', '/gone']) {
      const created = await as('POST', '/v1/webhook-endpoints', {
        url: `${receiver.url}${path}`,
        eventTypes: ['customer.created'],
      });
      expect(created.status).toBe(201);
    }
    await as('POST', '/v1/customers', { name: 'Hooli', email: 'ops@hooli.example' });
    const before = await scrape(t);
    expect(before.value('tessera_outbox_backlog_events')).toBeGreaterThan(0);
    expect(before.value('tessera_outbox_oldest_unpublished_age_seconds')).toBeGreaterThanOrEqual(0);

    await worker.runOnce();
    const after = await scrape(t);
    expect(after.value('tessera_outbox_backlog_events')).toBe(0);
    expect(after.value('tessera_outbox_oldest_unpublished_age_seconds')).toBe(0);
    expect(delta(before, after, 'tessera_webhook_attempts_total', { outcome: 'delivered' })).toBe(
      1,
    );
    expect(delta(before, after, 'tessera_webhook_attempts_total', { outcome: 'failed' })).toBe(1);
    expect(delta(before, after, 'tessera_webhook_delivery_lag_seconds_count')).toBe(1);
    expect(after.value('tessera_webhook_endpoints_disabled', { reason: 'gone' })).toBe(1);
    expect(after.value('tessera_webhook_endpoints_disabled', { reason: 'manual' })).toBe(0);
    expect(after.value('tessera_webhook_queue_pending')).toBe(0);
    expect(after.value('tessera_webhook_queue_due')).toBe(0);
  });

  it('tracks the audit chain head against its newest signed checkpoint', async () => {
    const before = await scrape(t);
    const head = before.value('tessera_audit_chain_head_sequence')!;
    expect(head).toBeGreaterThan(0);
    expect(before.value('tessera_audit_checkpoint_sequence')).toBe(0);
    expect(before.text).toMatch(/^tessera_audit_checkpoint_age_seconds \+Inf$/m);
    expect(before.value('tessera_audit_checkpoint_interval_seconds')).toBe(3600);

    const checkpoint = await t.app.get(AuditCheckpointService).create();
    const after = await scrape(t);
    expect(after.value('tessera_audit_checkpoint_sequence')).toBe(checkpoint.sequence);
    expect(after.value('tessera_audit_checkpoint_age_seconds')).toBeLessThan(60);
    expect(after.value('tessera_audit_chain_head_sequence')).toBeGreaterThanOrEqual(
      checkpoint.sequence,
    );
  });

  it('shows the report counts waiting to be folded, and none once folded', async () => {
    const folder = t.app.get(UsageFolder, { strict: false });
    // The test folds when it chooses (the app's folder would every second).
    await folder.onModuleDestroy();
    await t.app.get(DataSource).query(
      `INSERT INTO usage_deltas (at, metric, dim, count, recorded_at)
       VALUES (now(), 'webhook', 'delivered', 1, now() - interval '30 seconds'),
              (now(), 'webhook', 'failed', 2, now())`,
    );
    const before = await scrape(t);
    expect(before.value('tessera_usage_deltas_waiting')).toBeGreaterThanOrEqual(2);
    expect(before.value('tessera_usage_oldest_delta_seconds')).toBeGreaterThanOrEqual(30);
    await folder.fold();
    const after = await scrape(t);
    expect(after.value('tessera_usage_deltas_waiting')).toBe(0);
    expect(after.value('tessera_usage_oldest_delta_seconds')).toBe(0);
  });

  it('counts login failures and the lockouts they start', async () => {
    const before = await scrape(t);
    const login = (password: string) =>
      call('POST', '/v1/auth/login', { body: { email: owner.email, password } });
    expect((await login('wrong-password-1')).status).toBe(401);
    expect((await login('wrong-password-2')).status).toBe(401); // the threshold: locked from here
    expect((await login(PASSWORD)).status).toBe(429); // refused while locked, not counted again
    const after = await scrape(t);
    expect(delta(before, after, 'tessera_login_failures_total', { step: 'password' })).toBe(2);
    expect(delta(before, after, 'tessera_login_lockouts_total', { step: 'password' })).toBe(1);
    expect(delta(before, after, 'tessera_login_failures_total', { step: 'mfa' })).toBe(0);
  });

  it('reports the database pool, readiness and when each collector last refreshed', async () => {
    const now = Date.now() / 1000;
    const after = await scrape(t);
    expect(after.value('tessera_db_pool_max')).toBe(t.config.database.poolSize);
    expect(after.value('tessera_db_pool_connections', { state: 'in_use' })).toBeGreaterThanOrEqual(
      0,
    );
    expect(after.value('tessera_db_pool_connections', { state: 'idle' })).toBeGreaterThanOrEqual(0);
    expect(after.value('tessera_db_pool_waiting')).toBe(0);
    expect(after.value('tessera_ready')).toBe(1);
    expect(after.value('tessera_readiness_check_up', { check: 'database' })).toBe(1);
    expect(after.value('tessera_readiness_check_up', { check: 'signer' })).toBe(1);
    for (const collector of ['outbox', 'readiness', 'seats', 'webhooks', 'audit']) {
      expect(
        after.value('tessera_metrics_refreshed_timestamp_seconds', { collector }),
      ).toBeGreaterThanOrEqual(Math.floor(now) - 1);
      expect(after.value('tessera_metrics_refresh_failures_total', { collector }) ?? 0).toBe(0);
    }
  });

  it('is off without METRICS_PORT: no listener, nothing collected', async () => {
    const off = await startTestApp({ databaseUrl: t.databaseUrl });
    try {
      expect(off.app.get(MetricsServer, { strict: false }).port()).toBeUndefined();
      expect(off.app.get(Metrics).enabled).toBe(false);
      const text = await off.app.get(Metrics).render();
      expect(text).not.toContain('tessera_http_request_duration_seconds');
      expect(text).not.toContain('process_cpu_seconds_total');
    } finally {
      await off.close();
    }
  });
});
