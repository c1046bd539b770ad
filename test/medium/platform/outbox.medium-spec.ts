import { randomUUID } from 'node:crypto';

import { DataSource } from 'typeorm';

import { dataSourceOptions } from 'src/platform/database/database-options';
import { OutboxEventEntity } from 'src/platform/outbox/outbox-event.entity';
import { OutboxRepository } from 'src/platform/outbox/outbox.repository';
import { createTestDatabase } from 'test/support/test-database';
import { testConfig } from 'test/support/test-config';

describe('OutboxRepository', () => {
  let dataSource: DataSource;
  let outbox: OutboxRepository;

  beforeAll(async () => {
    dataSource = await new DataSource({
      ...dataSourceOptions(testConfig(), await createTestDatabase()),
      entities: [OutboxEventEntity],
    }).initialize();
    outbox = new OutboxRepository(dataSource);
  });
  afterAll(async () => {
    await dataSource.destroy();
  });

  const event = (aggregateId: string, n = 0) => ({
    type: 'license.suspended',
    aggregateType: 'license',
    aggregateId,
    data: { n },
  });

  it('numbers events 1, 2, 3 per aggregate, independently for each aggregate', async () => {
    const a = randomUUID();
    const b = randomUUID();
    await dataSource.transaction(async (tx) => {
      await outbox.add(tx, event(a));
      await outbox.add(tx, event(b));
      await outbox.add(tx, event(a));
    });
    const sequences = await dataSource.transaction(async (tx) => ({
      a: (await outbox.findByAggregate(tx, 'license', a)).map((e) => Number(e.sequence)),
      b: (await outbox.findByAggregate(tx, 'license', b)).map((e) => Number(e.sequence)),
    }));
    expect(sequences).toEqual({ a: [1, 2], b: [1] });
  });

  it('gives concurrent writers to one aggregate distinct, gapless sequence numbers', async () => {
    const id = randomUUID();
    await Promise.all(
      Array.from({ length: 30 }, (_, n) =>
        dataSource.transaction((tx) => outbox.add(tx, event(id, n))),
      ),
    );
    const events = await dataSource.transaction((tx) => outbox.findByAggregate(tx, 'license', id));
    expect(events.map((e) => Number(e.sequence))).toEqual(
      Array.from({ length: 30 }, (_, n) => n + 1),
    );
  });

  it('writes nothing when the surrounding transaction rolls back', async () => {
    const id = randomUUID();
    await expect(
      dataSource.transaction(async (tx) => {
        await outbox.add(tx, event(id));
        throw new Error('the business change failed');
      }),
    ).rejects.toThrow('the business change failed');
    const events = await dataSource.transaction((tx) => outbox.findByAggregate(tx, 'license', id));
    expect(events).toEqual([]);
  });

  it('rewrites every payload of one aggregate for erasure, and says how many', async () => {
    const erased = randomUUID();
    const other = randomUUID();
    await dataSource.transaction(async (tx) => {
      await outbox.add(tx, event(erased, 1));
      await outbox.add(tx, event(erased, 2));
      await outbox.add(tx, event(other, 3));
    });
    const count = await dataSource.transaction((tx) =>
      outbox.replaceAggregateData(tx, 'license', erased, { erased: true }),
    );
    expect(count).toBe(2);
    const payloads = await dataSource.transaction(async (tx) => ({
      erased: (await outbox.findByAggregate(tx, 'license', erased)).map((e) => e.data),
      other: (await outbox.findByAggregate(tx, 'license', other)).map((e) => e.data),
    }));
    expect(payloads).toEqual({ erased: [{ erased: true }, { erased: true }], other: [{ n: 3 }] });
  });

  it('reports the backlog not yet fanned out and the age of its oldest event', async () => {
    await dataSource.query(`UPDATE outbox_events SET dispatched_at = now()`);
    await expect(outbox.backlog()).resolves.toEqual({ events: 0, oldestAgeSeconds: 0 });
    const aggregate = randomUUID();
    await dataSource.transaction(async (tx) => {
      await outbox.add(tx, event(aggregate, 1));
      await outbox.add(tx, event(aggregate, 2));
    });
    await dataSource.query(
      `UPDATE outbox_events SET created_at = now() - interval '90 seconds' WHERE sequence = 1 AND aggregate_id = $1`,
      [aggregate],
    );
    const backlog = await outbox.backlog();
    expect(backlog.events).toBe(2);
    expect(backlog.oldestAgeSeconds).toBeGreaterThanOrEqual(90);
    expect(backlog.oldestAgeSeconds).toBeLessThan(120);
  });
});
