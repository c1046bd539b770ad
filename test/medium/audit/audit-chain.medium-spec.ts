import { randomUUID } from 'node:crypto';

import { chainHash, GENESIS_HASH } from 'src/modules/audit/audit-chain';
import type { AuditEntry, AuditEventDto } from 'src/modules/audit/audit.dto';
import { AuditModule } from 'src/modules/audit/audit.module';
import { AuditService } from 'src/modules/audit/audit.service';
import type { Actor } from 'src/platform/auth/actor';
import { systemActor } from 'src/platform/auth/actor';
import { Permission } from 'src/platform/auth/permission';
import { Transactions } from 'src/platform/database/transaction';
import { newMediumContext } from 'test/medium/medium-context';
import type { MediumContext } from 'test/medium/medium-context';
import { queryAs } from 'test/support/test-database';

interface StoredRow {
  sequence: string;
  action: string;
  prev_hash: string;
  hash: string;
  changes: unknown;
  metadata: unknown;
  actor_type: string;
  actor_id: string | null;
  actor_ip: string | null;
  user_agent: string | null;
  request_id: string | null;
}

const admin: Actor = {
  type: 'admin',
  id: randomUUID(),
  permissions: new Set([Permission.LicenseSuspend]),
  ip: '203.0.113.9',
  userAgent: 'jest',
  requestId: 'req-1',
};

const entry = (overrides: Partial<AuditEntry> = {}): AuditEntry => ({
  action: 'license.suspended',
  targetType: 'license',
  targetId: randomUUID(),
  ...overrides,
});

describe('audit chain (real PostgreSQL)', () => {
  let ctx: MediumContext;
  let audit: AuditService;

  beforeAll(async () => {
    ctx = await newMediumContext({ imports: [AuditModule] });
    audit = ctx.get(AuditService);
  });
  afterAll(async () => {
    await ctx.close();
  });

  /** Records in a transaction of its own; the event as chained. */
  const chained = async (actor: Actor, e: AuditEntry): Promise<AuditEventDto> =>
    (await audit.get(await audit.recordAlone(actor, e)))!;

  const rows = (where = 'TRUE', params: unknown[] = []) =>
    ctx.dataSource.query<StoredRow[]>(
      `SELECT * FROM audit_events WHERE ${where} ORDER BY sequence`,
      params,
    );
  const head = async () =>
    (
      await ctx.dataSource.query<{ sequence: string; hash: string }[]>(
        `SELECT sequence, hash FROM audit_chain_head`,
      )
    )[0];

  it('chains events from the genesis hash, stores who did it, and verifies', async () => {
    const events = [];
    for (const action of ['license.created', 'license.suspended', 'license.reinstated']) {
      events.push(await chained(admin, entry({ action })));
    }

    expect(events.map((e) => e.sequence)).toEqual([1, 2, 3]);
    expect(events[0].prevHash).toBe(GENESIS_HASH);
    expect(events[1].prevHash).toBe(events[0].hash);
    expect(events[2].prevHash).toBe(events[1].hash);
    expect(events[2].hash).toBe(chainHash(events[1].hash, events[2]));
    const stored = await rows();
    expect(stored.map((r) => [Number(r.sequence), r.action, r.hash])).toEqual(
      events.map((e) => [e.sequence, e.action, e.hash]),
    );
    expect(stored[0]).toMatchObject({
      actor_type: 'admin',
      actor_id: admin.id,
      actor_ip: '203.0.113.9',
      user_agent: 'jest',
      request_id: 'req-1',
    });
    await expect(head()).resolves.toEqual({ sequence: '3', hash: events[2].hash });
    await expect(audit.verify()).resolves.toEqual({
      ok: true,
      checked: 3,
      pending: 0,
      head: { sequence: 3, hash: events[2].hash },
    });
  });

  it('records a security event in a transaction of its own', async () => {
    const event = await chained(
      { type: 'anonymous', id: null, permissions: new Set(), ip: '198.51.100.1' },
      entry({
        action: 'auth.login-failed',
        targetType: 'admin',
        targetId: null,
        metadata: { email: 'x@example.com' },
      }),
    );
    expect(await rows('id = $1', [event.id])).toEqual([
      expect.objectContaining({
        action: 'auth.login-failed',
        actor_type: 'anonymous',
        actor_id: null,
        changes: null,
        metadata: { email: 'x@example.com' },
      }),
    ]);
    await expect(audit.verify()).resolves.toMatchObject({ ok: true });
  });

  it('leaves no event and no gap when the transaction rolls back after record()', async () => {
    const before = await head();
    const targetId = randomUUID();
    await expect(
      ctx.get(Transactions).run(async (tx) => {
        await audit.record(tx, admin, entry({ targetId }));
        throw new Error('the business change failed at commit time');
      }),
    ).rejects.toThrow('the business change failed');

    expect(await rows('target_id = $1', [targetId])).toEqual([]);
    await expect(
      ctx.dataSource.query(`SELECT id FROM audit_pending WHERE target_id = $1`, [targetId]),
    ).resolves.toEqual([]);
    await expect(head()).resolves.toEqual(before);
    const next = await chained(systemActor(), entry());
    expect(next.sequence).toBe(Number(before.sequence) + 1);
    expect(next.prevHash).toBe(before.hash);
    await expect(audit.verify()).resolves.toMatchObject({ ok: true });
  });

  it('links a committed event by itself, without a reader, and one a dead process left by the sweep', async () => {
    const linked = async (id: string) => {
      for (let waited = 0; waited <= 5000; waited += 50) {
        const rows = await ctx.dataSource.query(`SELECT 1 FROM audit_events WHERE id = $1`, [id]);
        if (rows.length === 1) {
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error(`event ${id} was not linked within 5 s`);
    };
    await linked(await audit.recordAlone(admin, entry()));
    // What a process that died between its commit and its link leaves: a pending row and no hook to link
    // it; only the sweep (every second) can.
    const orphan = randomUUID();
    await ctx.dataSource.query(
      `INSERT INTO audit_pending (id, occurred_at, actor_type, action, target_type)
       VALUES ($1, now(), 'system', 'license.expired', 'license')`,
      [orphan],
    );
    await linked(orphan);
    await expect(audit.pending()).resolves.toEqual({ events: 0, oldestSeconds: 0 });
    await expect(audit.verify()).resolves.toMatchObject({ ok: true, pending: 0 });
  });

  it('keeps an event waiting, and loses nothing, while linking fails; links it once linking works', async () => {
    const before = await head();
    // The chain's insert fails for one action, as a full disk would: every link rolls back.
    await queryAs(ctx.databaseUrl, 'owner', [
      [
        `CREATE FUNCTION test_refuse_link() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN RAISE EXCEPTION 'injected failure: link'; END $$`,
      ],
      [
        `CREATE TRIGGER test_refuse_link BEFORE INSERT ON audit_events FOR EACH ROW
         WHEN (NEW.action = 'license.revoked') EXECUTE FUNCTION test_refuse_link()`,
      ],
    ]);
    let id = '';
    try {
      id = await audit.recordAlone(admin, entry({ action: 'license.revoked' }));
      await expect(audit.verify()).rejects.toThrow('injected failure: link');
      await expect(audit.pending()).resolves.toMatchObject({ events: 1 });
      await expect(head()).resolves.toEqual(before);
    } finally {
      await queryAs(ctx.databaseUrl, 'owner', [
        ['DROP TRIGGER test_refuse_link ON audit_events'],
        ['DROP FUNCTION test_refuse_link()'],
      ]);
    }
    await expect(audit.get(id)).resolves.toMatchObject({
      action: 'license.revoked',
      sequence: Number(before.sequence) + 1,
      prevHash: before.hash,
    });
    await expect(audit.verify()).resolves.toMatchObject({ ok: true, pending: 0 });
  });

  it('stores only the changed fields, with secrets redacted at any depth', async () => {
    const event = await chained(admin, {
      action: 'admin.updated',
      targetType: 'admin',
      targetId: randomUUID(),
      before: {
        name: 'Ada',
        email: 'ada@example.com',
        passwordHash: '$argon2id$old',
        mfa: { totpSecret: 'OLDSECRET', enabled: false },
      },
      after: {
        name: 'Ada L.',
        email: 'ada@example.com',
        passwordHash: '$argon2id$new',
        mfa: { totpSecret: 'NEWSECRET', enabled: true },
      },
      metadata: { refreshToken: 'rt_live', sessionsRevoked: 2 },
    });
    const [stored] = await rows('id = $1', [event.id]);
    expect(stored.changes).toEqual({
      before: {
        name: 'Ada',
        passwordHash: '[redacted]',
        mfa: { totpSecret: '[redacted]', enabled: false },
      },
      after: {
        name: 'Ada L.',
        passwordHash: '[redacted]',
        mfa: { totpSecret: '[redacted]', enabled: true },
      },
    });
    expect(stored.metadata).toEqual({ refreshToken: '[redacted]', sessionsRevoked: 2 });
    const raw = JSON.stringify(stored);
    for (const secret of ['$argon2id$old', '$argon2id$new', 'OLDSECRET', 'NEWSECRET', 'rt_live']) {
      expect(raw).not.toContain(secret);
    }
    // What was stored is what was hashed.
    await expect(audit.verify()).resolves.toMatchObject({ ok: true });
  });

  it('keeps values such as dates, nested arrays and unicode hash-stable through jsonb', async () => {
    await audit.recordAlone(admin, {
      action: 'license.updated',
      targetType: 'license',
      targetId: randomUUID(),
      before: { expiresAt: new Date('2026-01-01T00:00:00.001Z'), tags: [] },
      after: { expiresAt: new Date('2027-01-01T00:00:00Z'), tags: [{ b: 1, a: [1.5, null] }] },
      metadata: {
        note: 'Grüße, 日本, \u2028 "quoted"',
        big: 2 ** 53 - 1,
        tiny: 1e-7,
        skip: undefined,
      },
    });
    await expect(audit.verify()).resolves.toMatchObject({ ok: true });
  });

  describe('append-only in the database', () => {
    it.each([
      ['UPDATE', `UPDATE audit_events SET action = 'license.revoked'`],
      ['DELETE', `DELETE FROM audit_events`],
      ['TRUNCATE', `TRUNCATE audit_events`],
    ])('rejects %s on audit_events', async (operation, sql) => {
      const count = (await rows()).length;
      // The server's role lacks the privilege; the trigger stops even the table's owner.
      await expect(ctx.dataSource.query(sql)).rejects.toThrow(
        'permission denied for table audit_events',
      );
      await expect(queryAs(ctx.databaseUrl, 'owner', [[sql]])).rejects.toThrow(
        `audit_events is append-only: ${operation} is not allowed`,
      );
      expect(await rows()).toHaveLength(count);
    });

    it.each([
      ['DELETE', `DELETE FROM audit_chain_head`, 'DELETE is not allowed'],
      ['TRUNCATE', `TRUNCATE audit_chain_head`, 'TRUNCATE is not allowed'],
      [
        'INSERT',
        `INSERT INTO audit_chain_head (singleton, sequence, hash) VALUES (false, 0, repeat('0', 64))`,
        'INSERT is not allowed',
      ],
      [
        'a rewind',
        `UPDATE audit_chain_head SET sequence = 0`,
        'only moves forward, onto a chained event',
      ],
      [
        'a hash rewrite',
        `UPDATE audit_chain_head SET hash = repeat('a', 64)`,
        'only moves forward, onto a chained event',
      ],
    ])('rejects %s on audit_chain_head', async (operation, sql, message) => {
      const before = await head();
      // The server's role may only UPDATE the head; the trigger refuses anything but one step forward.
      await expect(ctx.dataSource.query(sql)).rejects.toThrow(
        ['DELETE', 'TRUNCATE', 'INSERT'].includes(operation)
          ? 'permission denied for table audit_chain_head'
          : message,
      );
      await expect(queryAs(ctx.databaseUrl, 'owner', [[sql]])).rejects.toThrow(message);
      await expect(head()).resolves.toEqual(before);
    });

    it('still verifies after the rejected changes', async () => {
      await expect(audit.verify()).resolves.toMatchObject({ ok: true });
    });
  });
});
