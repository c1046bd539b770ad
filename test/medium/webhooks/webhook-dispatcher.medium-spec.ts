import { randomUUID } from 'node:crypto';

import { systemActor } from 'src/platform/auth/actor';
import { OutboxRepository } from 'src/platform/outbox/outbox.repository';
import {
  attemptCount,
  deliveriesOf,
  newWebhookContext,
} from 'test/medium/webhooks/webhook-context';
import type { WebhookContext } from 'test/medium/webhooks/webhook-context';
import { createTestDatabase } from 'test/support/test-database';
import { startWebhookReceiver } from 'test/support/webhook-receiver';
import type { WebhookReceiver } from 'test/support/webhook-receiver';

/** An event noun of its own per test: endpoints of other tests in this file never match its events. */
const noun = () => `n${randomUUID().replace(/-/g, '').slice(0, 10)}`;

describe('webhook dispatcher (two instances on one database)', () => {
  let a: WebhookContext;
  let b: WebhookContext;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    const url = await createTestDatabase();
    // A per-endpoint cap as large as the instance's, so that both instances can work on one endpoint.
    const env = { WEBHOOK_ENDPOINT_CONCURRENCY: '16' };
    a = await newWebhookContext(url, env);
    b = await newWebhookContext(url, env);
    receiver = await startWebhookReceiver();
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await receiver.close();
  });

  it('fans each committed event out once to every subscribed, enabled endpoint', async () => {
    const n = noun();
    const hook = (path: string) => `${receiver.url}/${n}/${path}`;
    const exact = await a.newEndpoint({ url: hook('exact'), eventTypes: [`${n}.created`] });
    const wildcard = await a.newEndpoint({ url: hook('wildcard'), eventTypes: [`${n}.*`] });
    const everything = await a.newEndpoint({ url: hook('all'), eventTypes: ['*'] });
    const other = await a.newEndpoint({ url: hook('other'), eventTypes: ['license.*'] });
    const disabled = await a.newEndpoint({
      url: hook('disabled'),
      eventTypes: [`${n}.*`],
      enabled: false,
    });
    try {
      const created = await a.commitEvent(`${n}.created`);
      const deleted = await a.commitEvent(`${n}.deleted`);

      await a.worker.runOnce();

      const rows = await deliveriesOf(a, [created, deleted]);
      const pairs = rows.map((r) => `${r.endpoint_id}:${r.event_id}`).sort();
      expect(pairs).toEqual(
        [
          `${exact.id}:${created}`,
          `${wildcard.id}:${created}`,
          `${wildcard.id}:${deleted}`,
          `${everything.id}:${created}`,
          `${everything.id}:${deleted}`,
        ].sort(),
      );
      expect(rows.every((r) => r.status === 'delivered' && r.attempts === 1)).toBe(true);
      const [{ pending }] = await a.dataSource.query<{ pending: string }[]>(
        `SELECT count(*) AS pending FROM outbox_events WHERE dispatched_at IS NULL`,
      );
      expect(Number(pending)).toBe(0);
      // Attempts run in parallel: no order between events (receivers use `sequence`).
      const byType = receiver
        .payloads(`/${n}/wildcard`)
        .sort((x, y) => String(x.type).localeCompare(String(y.type)));
      expect(byType).toEqual([
        {
          id: created,
          type: `${n}.created`,
          timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
          sequence: 1,
          aggregate: { type: n, id: expect.any(String) },
          data: { id: expect.any(String) },
        },
        expect.objectContaining({ id: deleted, type: `${n}.deleted`, sequence: 1 }),
      ]);
      expect(receiver.payloads(`/${n}/other`)).toEqual([]);
      expect(receiver.payloads(`/${n}/disabled`)).toEqual([]);

      // An endpoint never receives the events about itself (no loops), but other endpoints do.
      const own = await a.dataSource.query<{ type: string; mine: boolean }[]>(
        `SELECT o.type, o.aggregate_id = d.endpoint_id AS mine FROM webhook_deliveries d
         JOIN outbox_events o ON o.id = d.event_id
         WHERE d.endpoint_id = $1 AND o.aggregate_type = 'webhook-endpoint'`,
        [everything.id],
      );
      expect(own.length).toBeGreaterThanOrEqual(2); // `other` and `disabled` were created after it
      expect(own.every((row) => !row.mine)).toBe(true);
      expect(other.id).not.toBe(disabled.id);
    } finally {
      await a.endpoints.delete(systemActor(), everything.id);
    }
  });

  it('delivers each event to each endpoint once when both instances dispatch at the same time', async () => {
    const n = noun();
    const slow = receiver.respond;
    receiver.respond = (request, res) => {
      // A little latency, so that neither instance can drain the queue alone.
      setTimeout(() => slow(request, res), request.path.startsWith(`/${n}/`) ? 15 : 0);
    };
    try {
      const first = await a.newEndpoint({
        url: `${receiver.url}/${n}/one`,
        eventTypes: [`${n}.*`],
      });
      const second = await b.newEndpoint({
        url: `${receiver.url}/${n}/two`,
        eventTypes: [`${n}.*`],
      });
      const events = await Promise.all(
        Array.from({ length: 150 }, (_, i) => (i % 2 === 0 ? a : b).commitEvent(`${n}.happened`)),
      );
      const [{ pending }] = await a.dataSource.query<{ pending: string }[]>(
        `SELECT count(*) AS pending FROM outbox_events WHERE dispatched_at IS NULL`,
      );

      // Both fan out at once first: had one instance's fan-out still been open when the other claimed, the
      // other would have found nothing to claim and the test would prove nothing about sharing the claims.
      const fannedOut = await Promise.all([
        a.queue.fanOut(a.clock.now(), 500),
        b.queue.fanOut(b.clock.now(), 500),
      ]);
      const rounds = await Promise.all([
        a.worker.runOnce(),
        b.worker.runOnce(),
        a.worker.runOnce(),
        b.worker.runOnce(),
      ]);

      const dispatched =
        fannedOut.reduce((sum, f) => sum + f.events, 0) +
        rounds.reduce((sum, r) => sum + r.dispatched, 0);
      expect(dispatched).toBe(Number(pending));
      const attemptedByA = rounds[0].attempted + rounds[2].attempted;
      const attemptedByB = rounds[1].attempted + rounds[3].attempted;
      expect(attemptedByA + attemptedByB).toBe(300);
      expect(attemptedByA).toBeGreaterThan(0);
      expect(attemptedByB).toBeGreaterThan(0);

      const got = receiver.received.filter((r) => r.path.startsWith(`/${n}/`));
      expect(got).toHaveLength(300);
      const unique = new Set(got.map((r) => `${r.path} ${String(r.headers['webhook-id'])}`));
      expect(unique.size).toBe(300);
      expect(await attemptCount(a, events)).toBe(300);
      const rows = await deliveriesOf(a, events);
      expect(rows).toHaveLength(300);
      expect(rows.every((r) => r.status === 'delivered' && r.attempts === 1)).toBe(true);
      expect(new Set(rows.map((r) => r.endpoint_id))).toEqual(new Set([first.id, second.id]));
    } finally {
      receiver.respond = slow;
    }
  });

  it('leases a delivery to one instance; another takes it over only once the lease ran out', async () => {
    const n = noun();
    const normal = receiver.respond;
    let hung = false;
    receiver.respond = (request, res) => {
      if (request.path === `/${n}` && !hung) {
        hung = true; // the first attempt never gets an answer: its instance is stuck
        return;
      }
      normal(request, res);
    };
    try {
      await a.newEndpoint({ url: `${receiver.url}/${n}`, eventTypes: [`${n}.*`] });
      const event = await a.commitEvent(`${n}.happened`);

      const stuck = a.worker.runOnce();
      await receiver.waitFor((r) => r.some((x) => x.path === `/${n}`));
      const meanwhile = await b.worker.runOnce();
      expect(meanwhile.attempted).toBe(0);

      // Past the lease (signing 3 s + timeout 3 s + 5 s margin) on B's clock: B attempts it, A still waits.
      b.clock.advance(11_500);
      expect((await b.worker.runOnce()).attempted).toBe(1);
      await stuck;

      const ids = receiver.received
        .filter((r) => r.path === `/${n}`)
        .map((r) => r.headers['webhook-id']);
      expect(ids).toEqual([`msg_${event}`, `msg_${event}`]);
      const [delivery] = await deliveriesOf(a, [event]);
      // B's success stands; A's late timeout is logged but changed nothing (its claim was gone).
      expect(delivery).toMatchObject({ status: 'delivered', attempts: 1 });
      const log = await a.dataSource.query<{ succeeded: boolean; error_class: string | null }[]>(
        `SELECT a.succeeded, a.error_class FROM webhook_attempts a
         JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.event_id = $1 ORDER BY a.succeeded`,
        [event],
      );
      expect(log).toEqual([
        { succeeded: false, error_class: 'timeout' },
        { succeeded: true, error_class: null },
      ]);
    } finally {
      receiver.respond = normal;
    }
  });

  it('never delivers an event whose transaction rolled back, nor one not yet committed', async () => {
    const n = noun();
    await a.newEndpoint({ url: `${receiver.url}/${n}`, eventTypes: [`${n}.*`] });
    const outbox = a.module.get(OutboxRepository);
    const add = (manager: Parameters<OutboxRepository['add']>[0], type: string) =>
      outbox.add(manager, { type, aggregateType: n, aggregateId: randomUUID(), data: {} });

    let rolledBack = '';
    await expect(
      a.dataSource.transaction(async (tx) => {
        rolledBack = (await add(tx, `${n}.rolled-back`)).id;
        throw new Error('the business change failed');
      }),
    ).rejects.toThrow('the business change failed');
    const open = a.dataSource.createQueryRunner();
    await open.connect();
    await open.startTransaction();
    const later = (await add(open.manager, `${n}.committed-later`)).id;
    const abandoned = a.dataSource.createQueryRunner();
    await abandoned.connect();
    await abandoned.startTransaction();
    const neverCommitted = (await add(abandoned.manager, `${n}.never-committed`)).id;
    const committed = await a.commitEvent(`${n}.committed`);

    await a.worker.runOnce();
    await b.worker.runOnce();
    expect(receiver.payloads(`/${n}`).map((p) => p.id)).toEqual([committed]);

    await open.commitTransaction();
    await open.release();
    await abandoned.rollbackTransaction();
    await abandoned.release();
    await b.worker.runOnce();
    await a.worker.runOnce();

    expect(receiver.payloads(`/${n}`).map((p) => p.id)).toEqual([committed, later]);
    expect(await deliveriesOf(a, [rolledBack, neverCommitted])).toEqual([]);
  });

  it('caps the attempts in flight per endpoint, so a backlog for one receiver cannot starve the others', async () => {
    const n = noun();
    const backlogged = await a.newEndpoint({
      url: `${receiver.url}/${n}/slow`,
      eventTypes: [`${n}.old`],
    });
    const other = await a.newEndpoint({
      url: `${receiver.url}/${n}/other`,
      eventTypes: [`${n}.new`],
    });
    for (let i = 0; i < 30; i += 1) {
      await a.commitEvent(`${n}.old`);
    }
    for (let i = 0; i < 3; i += 1) {
      await a.commitEvent(`${n}.new`);
    }
    await a.queue.fanOut(a.clock.now(), 1_000);
    const lease = (ctx: WebhookContext) =>
      ctx.queue.claimDue(
        ctx.clock.now(),
        new Date(ctx.clock.now().getTime() + 60_000),
        randomUUID(),
        8,
        4,
      );
    const byEndpoint = (claimed: Array<{ endpointId: string }>) => ({
      backlogged: claimed.filter((c) => c.endpointId === backlogged.id).length,
      other: claimed.filter((c) => c.endpointId === other.id).length,
    });

    // The 30 older deliveries come first in time, yet only 4 of them are leased beside the 3 newer ones.
    expect(byEndpoint(await lease(a))).toEqual({ backlogged: 4, other: 3 });
    // Those 4 still in flight (here or on another instance), the backlogged endpoint gets no more.
    expect(byEndpoint(await lease(b))).toEqual({ backlogged: 0, other: 0 });
    // Once the leases have run out (no attempt settled them), the deliveries are claimed again.
    b.clock.advance(61_000);
    expect(byEndpoint(await lease(b))).toEqual({ backlogged: 4, other: 3 });
    await a.endpoints.delete(systemActor(), backlogged.id);
    await a.endpoints.delete(systemActor(), other.id);
  });
});
