import { randomUUID } from 'node:crypto';

import { chainHash } from 'src/modules/audit/audit-chain';
import type { AuditEventDto } from 'src/modules/audit/audit.dto';
import { AuditModule } from 'src/modules/audit/audit.module';
import { AuditService } from 'src/modules/audit/audit.service';
import { systemActor } from 'src/platform/auth/actor';
import { newMediumContext } from 'test/medium/medium-context';
import type { MediumContext } from 'test/medium/medium-context';
import { queryAs } from 'test/support/test-database';

const EVENTS = 5;

/**
 * What someone with superuser access to the database could do: switch off the append-only triggers, edit,
 * switch them back on. The triggers cannot stop that; verification must find it.
 */
describe('audit verification of a tampered chain (real PostgreSQL)', () => {
  let ctx: MediumContext;
  let audit: AuditService;
  let events: AuditEventDto[];

  // A database per test: each one breaks its chain.
  beforeEach(async () => {
    ctx = await newMediumContext({ imports: [AuditModule] });
    audit = ctx.get(AuditService);
    events = [];
    for (let n = 1; n <= EVENTS; n += 1) {
      const id = await audit.recordAlone(systemActor(), {
        action: 'license.renewed',
        targetType: 'license',
        targetId: randomUUID(),
        before: { expiresAt: `202${n}-01-01T00:00:00.000Z` },
        after: { expiresAt: `202${n + 1}-01-01T00:00:00.000Z` },
      });
      events.push((await audit.get(id))!);
    }
    await expect(audit.verify()).resolves.toMatchObject({ ok: true, checked: EVENTS });
  });
  afterEach(async () => {
    await ctx.close();
  });

  // The server's own role could do none of this (test/medium/platform/database-roles.medium-spec.ts).
  async function asSuperuser(...statements: Array<[sql: string, params?: unknown[]]>) {
    await queryAs(ctx.databaseUrl, 'superuser', [
      ['ALTER TABLE audit_events DISABLE TRIGGER USER'],
      ['ALTER TABLE audit_chain_head DISABLE TRIGGER USER'],
      ...statements,
      ['ALTER TABLE audit_events ENABLE TRIGGER USER'],
      ['ALTER TABLE audit_chain_head ENABLE TRIGGER USER'],
    ]);
  }

  it('finds an edited action: hash mismatch at that event', async () => {
    await asSuperuser([`UPDATE audit_events SET action = 'license.revoked' WHERE sequence = 3`]);
    await expect(audit.verify()).resolves.toEqual({
      ok: false,
      checked: 2,
      pending: 0,
      brokenAt: { sequence: 3, reason: 'hash mismatch' },
    });
  });

  it('finds an edited change even when only the jsonb differs', async () => {
    await asSuperuser([
      `UPDATE audit_events SET changes = jsonb_set(changes, '{after,expiresAt}', '"2099-01-01T00:00:00.000Z"')
       WHERE sequence = 2`,
    ]);
    await expect(audit.verify()).resolves.toEqual({
      ok: false,
      checked: 1,
      pending: 0,
      brokenAt: { sequence: 2, reason: 'hash mismatch' },
    });
  });

  it('finds a deleted event: sequence gap at the missing sequence', async () => {
    await asSuperuser([`DELETE FROM audit_events WHERE sequence = 3`]);
    await expect(audit.verify()).resolves.toEqual({
      ok: false,
      checked: 2,
      pending: 0,
      brokenAt: { sequence: 3, reason: 'sequence gap' },
    });
  });

  it('finds the last event deleted, through the head', async () => {
    await asSuperuser([`DELETE FROM audit_events WHERE sequence = ${EVENTS}`]);
    await expect(audit.verify()).resolves.toEqual({
      ok: false,
      checked: EVENTS - 1,
      pending: 0,
      brokenAt: { sequence: EVENTS, reason: 'sequence gap' },
    });
  });

  it('finds an edited event whose own hash was recomputed: prev_hash mismatch at the next one', async () => {
    const forged = { ...events[2], action: 'license.revoked' };
    await asSuperuser([
      `UPDATE audit_events SET action = $1, hash = $2 WHERE sequence = 3`,
      [forged.action, chainHash(forged.prevHash, forged)],
    ]);
    await expect(audit.verify()).resolves.toEqual({
      ok: false,
      checked: 3,
      pending: 0,
      brokenAt: { sequence: 4, reason: 'prev_hash mismatch' },
    });
  });

  it('finds a consistently rewritten tail, through the head table', async () => {
    let prevHash = events[1].hash;
    const rewrites: Array<[string, unknown[]]> = [];
    for (const event of events.slice(2)) {
      const forged = { ...event, action: 'license.revoked', prevHash };
      const hash = chainHash(prevHash, forged);
      rewrites.push([
        `UPDATE audit_events SET action = $1, prev_hash = $2, hash = $3 WHERE sequence = $4`,
        [forged.action, prevHash, hash, event.sequence],
      ]);
      prevHash = hash;
    }
    await asSuperuser(...rewrites);
    await expect(audit.verify()).resolves.toEqual({
      ok: false,
      checked: EVENTS,
      pending: 0,
      brokenAt: { sequence: EVENTS, reason: 'head mismatch' },
    });
  });

  it('finds events inserted around record(), past the head', async () => {
    const last = events[EVENTS - 1];
    const extra = { ...last, id: randomUUID(), sequence: EVENTS + 1, prevHash: last.hash };
    await asSuperuser([
      `INSERT INTO audit_events (id, sequence, occurred_at, actor_type, action, target_type, prev_hash, hash)
       VALUES ($1, $2, $3, 'system', $4, $5, $6, $7)`,
      [
        extra.id,
        extra.sequence,
        extra.occurredAt,
        extra.action,
        extra.targetType,
        extra.prevHash,
        chainHash(extra.prevHash, {
          ...extra,
          actorType: 'system',
          actorId: null,
          targetId: null,
          changes: null,
          metadata: {},
        }),
      ],
    ]);
    await expect(audit.verify()).resolves.toEqual({
      ok: false,
      checked: EVENTS + 1,
      pending: 0,
      brokenAt: { sequence: EVENTS + 1, reason: 'head mismatch' },
    });
  });
});
