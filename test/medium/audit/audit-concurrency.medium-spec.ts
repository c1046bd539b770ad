import { randomUUID } from 'node:crypto';

import { AuditModule } from 'src/modules/audit/audit.module';
import { AuditService } from 'src/modules/audit/audit.service';
import type { Actor } from 'src/platform/auth/actor';
import { Transactions } from 'src/platform/database/transaction';
import { OutboxRepository } from 'src/platform/outbox/outbox.repository';
import { newMediumContext } from 'test/medium/medium-context';
import type { MediumContext } from 'test/medium/medium-context';

const CLIENTS = 20;
const TRANSACTIONS_PER_CLIENT = 50;
const TOTAL = CLIENTS * TRANSACTIONS_PER_CLIENT;

describe('audit chain under concurrent writers (real PostgreSQL)', () => {
  let ctx: MediumContext;

  beforeAll(async () => {
    // One connection per client, and one for linking, so all 20 write at once.
    ctx = await newMediumContext({
      imports: [AuditModule],
      env: { DATABASE_POOL_SIZE: String(CLIENTS + 2) },
    });
  });
  afterAll(async () => {
    await ctx.close();
  });

  it(`keeps one gapless chain through ${TOTAL} transactions from ${CLIENTS} parallel clients`, async () => {
    const audit = ctx.get(AuditService);
    const outbox = ctx.get(OutboxRepository);
    const transactions = ctx.get(Transactions);

    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, client) => {
        const actor: Actor = { type: 'api-key', id: randomUUID(), permissions: new Set() };
        for (let n = 0; n < TRANSACTIONS_PER_CLIENT; n += 1) {
          const licenseId = randomUUID();
          await transactions.run(async (tx) => {
            await outbox.add(tx, {
              type: 'license.suspended',
              aggregateType: 'license',
              aggregateId: licenseId,
              data: { client, n },
            });
            await audit.record(tx, actor, {
              action: 'license.suspended',
              targetType: 'license',
              targetId: licenseId,
              before: { status: 'active' },
              after: { status: 'suspended' },
              metadata: { client, n },
            });
          });
        }
      }),
    );

    await ctx.linkAudit();
    const sequences = await ctx.dataSource.query<{ sequence: string; client: number; n: number }[]>(
      `SELECT sequence, (metadata->>'client')::int AS client, (metadata->>'n')::int AS n
       FROM audit_events ORDER BY sequence`,
    );
    expect(sequences.map((r) => Number(r.sequence))).toEqual(
      Array.from({ length: TOTAL }, (_, i) => i + 1),
    );
    // Commit order: each client's next transaction began after its previous one committed, so its
    // events are chained in the order it wrote them.
    for (let client = 0; client < CLIENTS; client += 1) {
      const written = sequences.filter((r) => r.client === client).map((r) => r.n);
      expect(written).toEqual(Array.from({ length: TRANSACTIONS_PER_CLIENT }, (_, n) => n));
    }
    // No fork: every prev_hash is used by exactly one event.
    const [{ distinct }] = await ctx.dataSource.query<{ distinct: number }[]>(
      `SELECT count(DISTINCT prev_hash)::int AS distinct FROM audit_events`,
    );
    expect(distinct).toBe(TOTAL);
    // Each audit event committed with its business write, and each client's events are all there.
    const [{ outboxEvents }] = await ctx.dataSource.query<{ outboxEvents: number }[]>(
      `SELECT count(*)::int AS "outboxEvents" FROM outbox_events o
       JOIN audit_events a ON a.target_id = o.aggregate_id::text`,
    );
    expect(outboxEvents).toBe(TOTAL);

    const result = await ctx.get(AuditService).verify();
    expect(result).toEqual({
      ok: true,
      checked: TOTAL,
      pending: 0,
      head: { sequence: TOTAL, hash: expect.stringMatching(/^[0-9a-f]{64}$/) },
    });
  });
});
