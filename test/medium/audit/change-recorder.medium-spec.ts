import { randomUUID } from 'node:crypto';

import { AuditModule } from 'src/modules/audit/audit.module';
import { ChangeRecorder } from 'src/modules/audit/change-recorder.service';
import { systemActor } from 'src/platform/auth/actor';
import { Transactions } from 'src/platform/database/transaction';
import { newMediumContext } from 'test/medium/medium-context';
import type { MediumContext } from 'test/medium/medium-context';

class RolledBack extends Error {}

describe('ChangeRecorder (real PostgreSQL)', () => {
  let ctx: MediumContext;
  let changes: ChangeRecorder;
  let transactions: Transactions;

  beforeAll(async () => {
    ctx = await newMediumContext({ imports: [AuditModule] });
    changes = ctx.get(ChangeRecorder);
    transactions = ctx.get(Transactions);
  });
  afterAll(async () => {
    await ctx.close();
  });

  const outboxOf = (aggregateId: string) =>
    ctx.dataSource.query<
      { type: string; aggregate_type: string; sequence: string; data: unknown }[]
    >(
      `SELECT type, aggregate_type, sequence, data FROM outbox_events
       WHERE aggregate_id = $1 ORDER BY sequence`,
      [aggregateId],
    );
  const auditOf = async (targetId: string) => {
    await ctx.linkAudit();
    return ctx.dataSource.query<{ action: string; target_type: string; changes: unknown }[]>(
      `SELECT action, target_type, changes FROM audit_events WHERE target_id = $1 ORDER BY sequence`,
      [targetId],
    );
  };

  it("writes the event as the action, in the target's stream, and the audit row, in one transaction", async () => {
    const id = randomUUID();
    await transactions.run((tx) =>
      changes.record(tx, systemActor(), {
        action: 'thing.created',
        targetType: 'thing',
        targetId: id,
        after: { name: 'a' },
        event: { data: { id, name: 'a' } },
      }),
    );
    await expect(outboxOf(id)).resolves.toEqual([
      { type: 'thing.created', aggregate_type: 'thing', sequence: '1', data: { id, name: 'a' } },
    ]);
    await expect(auditOf(id)).resolves.toEqual([
      {
        action: 'thing.created',
        target_type: 'thing',
        changes: { before: null, after: { name: 'a' } },
      },
    ]);
  });

  it('numbers events given another stream there, several per change, and audits once', async () => {
    const stream = randomUUID();
    const target = randomUUID();
    await transactions.run((tx) =>
      changes.record(tx, systemActor(), {
        action: 'part.culled',
        targetType: 'part',
        targetId: target,
        event: [1, 2].map((n) => ({ aggregateType: 'whole', aggregateId: stream, data: { n } })),
      }),
    );
    await expect(outboxOf(stream)).resolves.toEqual([
      { type: 'part.culled', aggregate_type: 'whole', sequence: '1', data: { n: 1 } },
      { type: 'part.culled', aggregate_type: 'whole', sequence: '2', data: { n: 2 } },
    ]);
    await expect(auditOf(target)).resolves.toHaveLength(1);
  });

  it('audits a change without an event, and leaves neither when the transaction rolls back', async () => {
    const kept = randomUUID();
    const dropped = randomUUID();
    await transactions.run((tx) =>
      changes.record(tx, systemActor(), { action: 'x.done', targetType: 'x', targetId: kept }),
    );
    await expect(
      transactions.run(async (tx) => {
        await changes.record(tx, systemActor(), {
          action: 'x.done',
          targetType: 'x',
          targetId: dropped,
          event: { data: {} },
        });
        throw new RolledBack();
      }),
    ).rejects.toBeInstanceOf(RolledBack);
    await expect(outboxOf(kept)).resolves.toEqual([]);
    await expect(auditOf(kept)).resolves.toHaveLength(1);
    await expect(outboxOf(dropped)).resolves.toEqual([]);
    await expect(auditOf(dropped)).resolves.toEqual([]);
  });
});
