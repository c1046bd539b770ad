import { randomUUID } from 'node:crypto';

import type { LicenseDto } from 'src/modules/licenses/license.dto';
import type { LicenseEntitlementService } from 'src/modules/licenses/license-entitlement.service';
import type { LicenseUsageService } from 'src/modules/licenses/license-usage.service';
import type { LicenseService } from 'src/modules/licenses/license.service';
import {
  eventCounts,
  eventsOf,
  newLicensingContext,
  tag,
} from 'test/medium/licenses/licensing-context';
import type { LicensingContext } from 'test/medium/licenses/licensing-context';

const DAY_MS = 86_400_000;

describe('LicenseService (real PostgreSQL)', () => {
  let ctx: LicensingContext;
  let licenses: LicenseService;
  let usage: LicenseUsageService;
  let grants: LicenseEntitlementService;

  beforeAll(async () => {
    ctx = await newLicensingContext();
    ({ licenses, usage, grants } = ctx);
  });
  afterAll(async () => {
    await ctx.close();
  });
  beforeEach(() => ctx.clock.reset());

  const actor = () => ctx.actor;

  async function row(id: string) {
    const [found] = await ctx.dataSource.query<
      { status: string; version: number; uses: number; key_hash: string; policy_id: string }[]
    >(`SELECT status, version, uses, key_hash, policy_id FROM licenses WHERE id = $1`, [id]);
    return found;
  }

  async function auditOf(id: string, action: string) {
    await ctx.linkAudit();
    const [event] = await ctx.dataSource.query<
      { actor_id: string; changes: Record<string, unknown>; metadata: Record<string, unknown> }[]
    >(`SELECT actor_id, changes, metadata FROM audit_events WHERE target_id = $1 AND action = $2`, [
      id,
      action,
    ]);
    return event;
  }

  describe('issue', () => {
    it('sets the expiry from the policy duration and holds the policy and license entitlements', async () => {
      const fromPolicy = await ctx.newEntitlement();
      const own = await ctx.newEntitlement();
      ctx.clock.pin();
      const now = ctx.clock.now();
      const { license, policy } = await ctx.newLicense({
        policy: { durationSeconds: 30 * 86_400, entitlements: [fromPolicy.code] },
        license: { entitlements: [own.code], name: 'Seat pack' },
      });

      expect(license).toMatchObject({
        policyId: policy.id,
        name: 'Seat pack',
        status: 'ACTIVE',
        expiresAt: new Date(now.getTime() + 30 * DAY_MS).toISOString(),
        entitlements: [fromPolicy.code, own.code].sort(),
        uses: 0,
        maxMachines: null,
        maxUses: null,
        // Check-in intervals count from issue.
        lastCheckInAt: now.toISOString(),
        lastValidatedAt: null,
        version: 1,
      });
      expect(license.key).toMatch(/^([0-9A-HJKMNP-TV-Z]{5}-){5}[0-9A-HJKMNP-TV-Z]{5}$/);
      expect(license.keyPrefix).toBe(license.key.slice(0, 5));
      const { key: _key, ...stored } = license;
      await expect(licenses.get(license.id)).resolves.toEqual(stored);
    });

    it('stores only a keyed hash of the key, and no event or audit row carries the key', async () => {
      const { license } = await ctx.newLicense();
      const { key_hash } = await row(license.id);
      expect(key_hash).toBe(licenses.keyHash(license.key));
      expect(key_hash).not.toContain(license.key);
      // Typed loosely (lower case, no dashes, O for 0) it is the same key.
      expect(licenses.keyHash(license.key.toLowerCase().replace(/-/g, '').replace(/0/g, 'o'))).toBe(
        key_hash,
      );

      expect(await eventsOf(ctx, license.id)).toEqual({
        outbox: ['license.created'],
        audit: ['license.created'],
      });
      await ctx.linkAudit();
      const [{ text }] = await ctx.dataSource.query<{ text: string }[]>(
        `SELECT (SELECT string_agg(data::text, ' ') FROM outbox_events WHERE aggregate_id = $1::uuid) ||
                (SELECT string_agg(row_to_json(a)::text, ' ') FROM audit_events a WHERE target_id = $2) AS text`,
        [license.id, license.id],
      );
      expect(text).toContain(license.id);
      expect(text).not.toContain(license.key);
      expect(text).not.toContain(license.key.replace(/-/g, ''));
    });

    it('issues a perpetual license from a policy without duration', async () => {
      const { license } = await ctx.newLicense({ policy: { durationSeconds: null } });
      expect(license).toMatchObject({ expiresAt: null, status: 'ACTIVE' });
      ctx.clock.advance(20 * 365 * DAY_MS);
      await expect(licenses.get(license.id)).resolves.toMatchObject({ status: 'ACTIVE' });
    });

    it("lets the license override the policy's expiry, machine limit and use limit", async () => {
      const expiresAt = new Date(Date.now() + 7 * DAY_MS).toISOString();
      const { license } = await ctx.newLicense({
        policy: { durationSeconds: 30 * 86_400, maxMachines: 3, maxUses: 100 },
        license: { expiresAt, maxMachines: 10, maxUses: 5 },
      });
      expect(license).toMatchObject({ expiresAt, maxMachines: 10, maxUses: 5 });
      const perpetual = await ctx.newLicense({
        policy: { durationSeconds: null, maxMachines: 3, maxUses: 100 },
        license: { expiresAt },
      });
      expect(perpetual.license).toMatchObject({ expiresAt, maxMachines: 3, maxUses: 100 });
    });

    it('refuses an unknown policy, customer or entitlement, and writes nothing', async () => {
      const policy = await ctx.newPolicy();
      const customer = await ctx.newCustomer();
      const before = await eventCounts(ctx);
      await expect(
        licenses.issue(actor(), { policyId: randomUUID(), customerId: customer.id }),
      ).rejects.toMatchObject({ code: 'POLICY_NOT_FOUND', status: 404 });
      await expect(
        licenses.issue(actor(), { policyId: policy.id, customerId: randomUUID() }),
      ).rejects.toMatchObject({ code: 'CUSTOMER_NOT_FOUND', status: 404 });
      await expect(
        licenses.issue(actor(), {
          policyId: policy.id,
          customerId: customer.id,
          entitlements: [`feature.unknown-${tag()}`],
        }),
      ).rejects.toMatchObject({ code: 'UNKNOWN_ENTITLEMENTS', status: 422 });
      expect(await eventCounts(ctx)).toEqual(before);
      await expect(licenses.list(10, undefined, { policyId: policy.id })).resolves.toMatchObject({
        data: [],
      });
    });
  });

  describe('lifecycle actions', () => {
    it('suspends, reinstates and revokes, each with its outbox event and audit row', async () => {
      const { license } = await ctx.newLicense();
      await expect(licenses.suspend(actor(), license.id)).resolves.toMatchObject({
        status: 'SUSPENDED',
        version: 2,
      });
      await expect(licenses.reinstate(actor(), license.id)).resolves.toMatchObject({
        status: 'ACTIVE',
        version: 3,
      });
      await expect(licenses.revoke(actor(), license.id)).resolves.toMatchObject({
        status: 'REVOKED',
        version: 4,
      });
      await expect(row(license.id)).resolves.toMatchObject({ status: 'REVOKED', version: 4 });

      const kinds = [
        'license.created',
        'license.suspended',
        'license.reinstated',
        'license.revoked',
      ];
      expect(await eventsOf(ctx, license.id)).toEqual({ outbox: kinds, audit: kinds });
      const outbox = await ctx.dataSource.query<{ sequence: string; data: LicenseDto }[]>(
        `SELECT sequence, data FROM outbox_events WHERE aggregate_id = $1 ORDER BY sequence`,
        [license.id],
      );
      expect(outbox.map((e) => [Number(e.sequence), e.data.status])).toEqual([
        [1, 'ACTIVE'],
        [2, 'SUSPENDED'],
        [3, 'ACTIVE'],
        [4, 'REVOKED'],
      ]);
      const suspended = await auditOf(license.id, 'license.suspended');
      expect(suspended.actor_id).toBe(ctx.actor.id);
      expect(suspended.changes).toMatchObject({
        before: { status: 'ACTIVE', version: 1 },
        after: { status: 'SUSPENDED', version: 2 },
      });
    });

    it.each([
      ['suspend', 'SUSPENDED', 'LICENSE_NOT_ACTIVE'],
      ['suspend', 'REVOKED', 'LICENSE_NOT_ACTIVE'],
      ['reinstate', 'ACTIVE', 'LICENSE_NOT_SUSPENDED'],
      ['reinstate', 'REVOKED', 'LICENSE_NOT_SUSPENDED'],
      ['revoke', 'REVOKED', 'LICENSE_ALREADY_REVOKED'],
      ['renew', 'REVOKED', 'LICENSE_REVOKED'],
      ['checkIn', 'REVOKED', 'LICENSE_REVOKED'],
    ] as const)(
      'refuses to %s a %s license with %s (409), and writes nothing',
      async (action, status, code) => {
        const { license } = await ctx.newLicense({ policy: { durationSeconds: 86_400 } });
        if (status !== 'ACTIVE') {
          await licenses[status === 'REVOKED' ? 'revoke' : 'suspend'](actor(), license.id);
        }
        const before = { row: await row(license.id), counts: await eventCounts(ctx) };
        await expect(licenses[action](actor(), license.id)).rejects.toMatchObject({
          code,
          status: 409,
        });
        expect({ row: await row(license.id), counts: await eventCounts(ctx) }).toEqual(before);
      },
    );

    it('answers LICENSE_NOT_FOUND to every action on an unknown id, and writes nothing', async () => {
      const id = randomUUID();
      const before = await eventCounts(ctx);
      // Each call starts only when awaited, as in the customers test: a promise made up front could reject
      // before its expect is attached.
      for (const attempt of [
        () => licenses.get(id),
        () => licenses.suspend(actor(), id),
        () => licenses.reinstate(actor(), id),
        () => licenses.revoke(actor(), id),
        () => licenses.renew(actor(), id),
        () => licenses.checkIn(actor(), id),
        () => licenses.update(actor(), id, 1, { name: 'x' }),
        () => licenses.changePolicy(actor(), id, randomUUID()),
        () => grants.attach(actor(), id, []),
        () => grants.detach(actor(), id, []),
        () => usage.increment(actor(), id, 1),
        () => usage.decrement(actor(), id, 1),
        () => usage.reset(actor(), id),
      ]) {
        await expect(attempt()).rejects.toMatchObject({ code: 'LICENSE_NOT_FOUND', status: 404 });
      }
      expect(await eventCounts(ctx)).toEqual(before);
    });

    it('records the reinstatement of a suspended license after its suspension, in one stream', async () => {
      const { license } = await ctx.newLicense();
      await licenses.suspend(actor(), license.id);
      await licenses.checkIn(actor(), license.id);
      await licenses.reinstate(actor(), license.id);
      expect((await eventsOf(ctx, license.id)).outbox).toEqual([
        'license.created',
        'license.suspended',
        'license.checked-in',
        'license.reinstated',
      ]);
    });
  });

  describe('renew', () => {
    it('extends an unexpired license by the policy duration from its current expiry', async () => {
      ctx.clock.pin();
      const { license } = await ctx.newLicense({ policy: { durationSeconds: 10 * 86_400 } });
      ctx.clock.advance(4 * DAY_MS);
      const renewed = await licenses.renew(actor(), license.id);
      expect(renewed.expiresAt).toBe(
        new Date(new Date(license.expiresAt!).getTime() + 10 * DAY_MS).toISOString(),
      );
      expect(await eventsOf(ctx, license.id)).toEqual({
        outbox: ['license.created', 'license.renewed'],
        audit: ['license.created', 'license.renewed'],
      });
      expect((await auditOf(license.id, 'license.renewed')).changes).toMatchObject({
        before: { expiresAt: license.expiresAt },
        after: { expiresAt: renewed.expiresAt },
      });
    });

    it('renews an expired license from now, and it reads ACTIVE again', async () => {
      ctx.clock.pin();
      const { license } = await ctx.newLicense({ policy: { durationSeconds: 5 * 86_400 } });
      ctx.clock.advance(20 * DAY_MS);
      await expect(licenses.get(license.id)).resolves.toMatchObject({ status: 'EXPIRED' });
      const renewed = await licenses.renew(actor(), license.id);
      expect(renewed).toMatchObject({
        status: 'ACTIVE',
        expiresAt: new Date(ctx.clock.now().getTime() + 5 * DAY_MS).toISOString(),
      });
    });

    it('renews a suspended license without reinstating it', async () => {
      const { license } = await ctx.newLicense({ policy: { durationSeconds: 86_400 } });
      await licenses.suspend(actor(), license.id);
      await expect(licenses.renew(actor(), license.id)).resolves.toMatchObject({
        status: 'SUSPENDED',
      });
    });

    it('refuses to renew a license without expiry with LICENSE_PERPETUAL, and writes nothing', async () => {
      const { license } = await ctx.newLicense({ policy: { durationSeconds: null } });
      const before = await eventCounts(ctx);
      await expect(licenses.renew(actor(), license.id)).rejects.toMatchObject({
        code: 'LICENSE_PERPETUAL',
        status: 409,
      });
      expect(await eventCounts(ctx)).toEqual(before);
    });
  });

  describe('status derived from the clock', () => {
    it('reads ACTIVE until three days before expiry, EXPIRING within them and EXPIRED from the expiry', async () => {
      ctx.clock.pin();
      const expiresAt = new Date(ctx.clock.now().getTime() + 10 * DAY_MS);
      const { license } = await ctx.newLicense({
        license: { expiresAt: expiresAt.toISOString() },
      });
      const statusAt = async (at: number) => {
        ctx.clock.pin(new Date(at));
        return (await licenses.get(license.id)).status;
      };
      const end = expiresAt.getTime();
      expect(await statusAt(end - 3 * DAY_MS - 1)).toBe('ACTIVE');
      expect(await statusAt(end - 3 * DAY_MS)).toBe('EXPIRING');
      expect(await statusAt(end - 1)).toBe('EXPIRING');
      expect(await statusAt(end)).toBe('EXPIRED');
      expect(await statusAt(end + 365 * DAY_MS)).toBe('EXPIRED');
      // Derived on read, never stored.
      await expect(row(license.id)).resolves.toMatchObject({ status: 'ACTIVE', version: 1 });
      expect((await eventsOf(ctx, license.id)).audit).toEqual(['license.created']);
    });

    it('derives statuses in lists too, and a stored SUSPENDED or REVOKED outranks an expiry', async () => {
      ctx.clock.pin();
      const policy = await ctx.newPolicy({ durationSeconds: 86_400 });
      const issued = await Promise.all(Array.from({ length: 3 }, () => ctx.newLicense({ policy })));
      await licenses.suspend(actor(), issued[1].license.id);
      await licenses.revoke(actor(), issued[2].license.id);
      ctx.clock.advance(2 * DAY_MS);
      const listed = await licenses.list(10, undefined, { policyId: policy.id });
      expect(Object.fromEntries(listed.data.map((l) => [l.id, l.status]))).toEqual({
        [issued[0].license.id]: 'EXPIRED',
        [issued[1].license.id]: 'SUSPENDED',
        [issued[2].license.id]: 'REVOKED',
      });
    });
  });

  describe('check-in', () => {
    it('stamps lastCheckInAt with the time, also for a suspended license', async () => {
      ctx.clock.pin();
      const { license } = await ctx.newLicense({
        policy: { requireCheckIn: true, checkInIntervalSeconds: 3600 },
      });
      ctx.clock.advance(30 * 60_000);
      const checkedIn = await licenses.checkIn(actor(), license.id);
      expect(checkedIn.lastCheckInAt).toBe(ctx.clock.now().toISOString());
      await licenses.suspend(actor(), license.id);
      ctx.clock.advance(60_000);
      await expect(licenses.checkIn(actor(), license.id)).resolves.toMatchObject({
        lastCheckInAt: ctx.clock.now().toISOString(),
        status: 'SUSPENDED',
      });
      expect((await eventsOf(ctx, license.id)).audit).toEqual([
        'license.created',
        'license.checked-in',
        'license.suspended',
        'license.checked-in',
      ]);
    });
  });

  describe('change policy', () => {
    it('moves a license to another policy of the same product, keeping its key', async () => {
      const extra = await ctx.newEntitlement();
      const from = await ctx.newPolicy({ maxMachines: 1 });
      const to = await ctx.newPolicy({
        productId: from.productId,
        maxMachines: 5,
        entitlements: [extra.code],
      });
      const { license } = await ctx.newLicense({ policy: from });
      const keyHash = (await row(license.id)).key_hash;

      const changed = await licenses.changePolicy(actor(), license.id, to.id);
      expect(changed).toMatchObject({
        policyId: to.id,
        maxMachines: 5,
        entitlements: [extra.code],
        keyPrefix: license.keyPrefix,
      });
      await expect(row(license.id)).resolves.toMatchObject({ policy_id: to.id, key_hash: keyHash });
      expect((await auditOf(license.id, 'license.policy-changed')).changes).toMatchObject({
        before: { policyId: from.id },
        after: { policyId: to.id },
      });
      expect((await eventsOf(ctx, license.id)).outbox).toEqual([
        'license.created',
        'license.policy-changed',
      ]);
    });

    it("refuses another product's policy (POLICY_PRODUCT_MISMATCH) or an unknown one, and writes nothing", async () => {
      const { license, policy } = await ctx.newLicense();
      const foreign = await ctx.newPolicy();
      const before = await eventCounts(ctx);
      await expect(licenses.changePolicy(actor(), license.id, foreign.id)).rejects.toMatchObject({
        code: 'POLICY_PRODUCT_MISMATCH',
        status: 422,
      });
      await expect(licenses.changePolicy(actor(), license.id, randomUUID())).rejects.toMatchObject({
        code: 'POLICY_NOT_FOUND',
      });
      expect(await eventCounts(ctx)).toEqual(before);
      await expect(row(license.id)).resolves.toMatchObject({ policy_id: policy.id, version: 1 });
    });
  });

  describe('entitlements', () => {
    it('attaches and detaches license entitlements; those of the policy stay', async () => {
      const [fromPolicy, a, b] = await Promise.all([
        ctx.newEntitlement(),
        ctx.newEntitlement(),
        ctx.newEntitlement(),
      ]);
      const { license } = await ctx.newLicense({ policy: { entitlements: [fromPolicy.code] } });

      const attached = await grants.attach(actor(), license.id, [a.code, b.code]);
      expect(attached.entitlements).toEqual([fromPolicy.code, a.code, b.code].sort());
      // Attaching what the license holds already changes nothing, and fails nothing.
      await expect(grants.attach(actor(), license.id, [a.code])).resolves.toMatchObject({
        entitlements: attached.entitlements,
      });

      const detached = await grants.detach(actor(), license.id, [a.code, fromPolicy.code]);
      expect(detached.entitlements).toEqual([fromPolicy.code, b.code].sort());
      await expect(licenses.get(license.id)).resolves.toMatchObject({
        entitlements: detached.entitlements,
      });

      expect(await eventsOf(ctx, license.id)).toEqual({
        outbox: [
          'license.created',
          'license.entitlements-attached',
          'license.entitlements-attached',
          'license.entitlements-detached',
        ],
        audit: [
          'license.created',
          'license.entitlements-attached',
          'license.entitlements-attached',
          'license.entitlements-detached',
        ],
      });
      const detachment = await auditOf(license.id, 'license.entitlements-detached');
      expect(detachment.metadata).toEqual({ entitlements: [a.code, fromPolicy.code] });
      expect(detachment.changes).toMatchObject({
        before: { entitlements: attached.entitlements },
        after: { entitlements: detached.entitlements },
      });
    });

    it('moves the version on attaching and on detaching, so an update with the old one is stale', async () => {
      const entitlement = await ctx.newEntitlement();
      const { license } = await ctx.newLicense();
      // Even within one millisecond (the clock stands still): each change must move the version.
      ctx.clock.pin();
      await expect(grants.attach(actor(), license.id, [entitlement.code])).resolves.toMatchObject({
        entitlements: [entitlement.code],
        version: 2,
      });
      await expect(
        licenses.update(actor(), license.id, 1, { name: 'Lost update' }),
      ).rejects.toMatchObject({ code: 'STALE_VERSION' });
      await expect(grants.detach(actor(), license.id, [entitlement.code])).resolves.toMatchObject({
        entitlements: [],
        version: 3,
      });
      await expect(
        licenses.update(actor(), license.id, 2, { name: 'Lost update' }),
      ).rejects.toMatchObject({ code: 'STALE_VERSION' });
      await expect(row(license.id)).resolves.toMatchObject({ version: 3 });
    });

    it('refuses unknown entitlement codes, naming them, and attaches none of the list', async () => {
      const known = await ctx.newEntitlement();
      const { license } = await ctx.newLicense();
      const unknown = `feature.nope-${tag()}`;
      const before = await eventCounts(ctx);
      await expect(grants.attach(actor(), license.id, [known.code, unknown])).rejects.toMatchObject(
        { code: 'UNKNOWN_ENTITLEMENTS', status: 422 },
      );
      await expect(grants.detach(actor(), license.id, [unknown])).rejects.toMatchObject({
        code: 'UNKNOWN_ENTITLEMENTS',
      });
      expect(await eventCounts(ctx)).toEqual(before);
      await expect(licenses.get(license.id)).resolves.toMatchObject({ entitlements: [] });
    });
  });

  describe('optimistic locking', () => {
    it('updates with the current version and refuses a stale one with STALE_VERSION (412), writing nothing', async () => {
      const { license } = await ctx.newLicense({ policy: { maxMachines: 2, maxUses: 50 } });
      const updated = await licenses.update(actor(), license.id, 1, {
        name: 'Renamed',
        maxMachines: 7,
        maxUses: 9,
        metadata: { seat: 'a' },
      });
      expect(updated).toMatchObject({
        name: 'Renamed',
        maxMachines: 7,
        maxUses: 9,
        metadata: { seat: 'a' },
        version: 2,
      });

      // An action moves the version too: a client holding version 2 is now stale.
      await licenses.suspend(actor(), license.id);
      const before = await eventCounts(ctx);
      await expect(
        licenses.update(actor(), license.id, 2, { name: 'Lost update' }),
      ).rejects.toMatchObject({ code: 'STALE_VERSION', status: 412 });
      expect(await eventCounts(ctx)).toEqual(before);

      // null clears an override: the policy's limits apply again.
      await expect(
        licenses.update(actor(), license.id, 3, { maxMachines: null, maxUses: null }),
      ).resolves.toMatchObject({ name: 'Renamed', maxMachines: 2, maxUses: 50, version: 4 });
      expect((await eventsOf(ctx, license.id)).audit).toEqual([
        'license.created',
        'license.updated',
        'license.suspended',
        'license.updated',
      ]);
    });

    it('lets exactly one of several updates of one version win, round after round', async () => {
      const { license } = await ctx.newLicense();
      for (let round = 0; round < 10; round++) {
        const version = round + 1;
        const outcomes = await Promise.allSettled(
          Array.from({ length: 5 }, (_, i) =>
            licenses.update(actor(), license.id, version, { name: `round ${round} writer ${i}` }),
          ),
        );
        const won = outcomes.filter((o) => o.status === 'fulfilled');
        expect(won).toHaveLength(1);
        for (const lost of outcomes.filter((o) => o.status === 'rejected')) {
          expect(lost.reason).toMatchObject({ code: 'STALE_VERSION' });
        }
        await expect(licenses.get(license.id)).resolves.toMatchObject({
          version: version + 1,
          name: won[0].value.name,
        });
      }
      const { audit } = await eventsOf(ctx, license.id);
      expect(audit.filter((a) => a === 'license.updated')).toHaveLength(10);
    });

    it('updates a policy with its current version only', async () => {
      const policy = await ctx.newPolicy({ maxMachines: 1 });
      const before = await eventCounts(ctx);
      await expect(
        ctx.policies.update(ctx.actor, policy.id, 2, { name: 'x' }),
      ).rejects.toMatchObject({ code: 'STALE_VERSION', status: 412 });
      expect(await eventCounts(ctx)).toEqual(before);
      await expect(
        ctx.policies.update(ctx.actor, policy.id, 1, { maxMachines: 2 }),
      ).resolves.toMatchObject({ maxMachines: 2, version: 2 });
      await expect(
        ctx.policies.update(ctx.actor, policy.id, 1, { maxMachines: 3 }),
      ).rejects.toMatchObject({ code: 'STALE_VERSION' });
      expect(await eventsOf(ctx, policy.id)).toEqual({
        outbox: ['policy.created', 'policy.updated'],
        audit: ['policy.created', 'policy.updated'],
      });
    });

    it('lets exactly one of several updates of one policy version win, round after round', async () => {
      const policy = await ctx.newPolicy();
      for (let round = 0; round < 10; round++) {
        const version = round + 1;
        const outcomes = await Promise.allSettled(
          Array.from({ length: 5 }, (_, i) =>
            ctx.policies.update(actor(), policy.id, version, {
              name: `round ${round} writer ${i}`,
              maxMachines: i + 1,
            }),
          ),
        );
        const won = outcomes.filter((o) => o.status === 'fulfilled');
        expect(won).toHaveLength(1);
        for (const lost of outcomes.filter((o) => o.status === 'rejected')) {
          expect(lost.reason).toMatchObject({ code: 'STALE_VERSION' });
        }
        // The winner's copy is what is stored, under the next version: no loser wrote over it.
        await expect(ctx.policies.get(policy.id)).resolves.toMatchObject({
          version: version + 1,
          name: won[0].value.name,
          maxMachines: won[0].value.maxMachines,
        });
      }
      const { outbox, audit } = await eventsOf(ctx, policy.id);
      expect(outbox.filter((a) => a === 'policy.updated')).toHaveLength(10);
      expect(audit.filter((a) => a === 'policy.updated')).toHaveLength(10);
    });

    it("moves a policy's version when an update changes only its entitlements", async () => {
      const [a, b] = await Promise.all([ctx.newEntitlement(), ctx.newEntitlement()]);
      const policy = await ctx.newPolicy({ entitlements: [a.code] });
      ctx.clock.pin(); // within one millisecond too
      await expect(
        ctx.policies.update(ctx.actor, policy.id, 1, { entitlements: [b.code] }),
      ).resolves.toMatchObject({ entitlements: [b.code], version: 2 });
      await expect(ctx.policies.get(policy.id)).resolves.toMatchObject({
        entitlements: [b.code],
        version: 2,
      });
      // A client still holding version 1 (the ETag before the change) is refused.
      await expect(
        ctx.policies.update(ctx.actor, policy.id, 1, { entitlements: [a.code] }),
      ).rejects.toMatchObject({ code: 'STALE_VERSION' });
      await expect(ctx.policies.get(policy.id)).resolves.toMatchObject({
        entitlements: [b.code],
      });
      await expect(
        ctx.policies.update(ctx.actor, policy.id, 2, { entitlements: [a.code] }),
      ).resolves.toMatchObject({ entitlements: [a.code], version: 3 });
    });
  });

  describe('usage', () => {
    it('counts up to maxUses and refuses beyond it with USAGE_LIMIT_EXCEEDED (422), writing nothing', async () => {
      const { license } = await ctx.newLicense({ policy: { maxUses: 10 } });
      await expect(usage.increment(actor(), license.id, 4)).resolves.toMatchObject({
        uses: 4,
      });
      await expect(usage.increment(actor(), license.id, 6)).resolves.toMatchObject({
        uses: 10,
      });
      const before = await eventCounts(ctx);
      await expect(usage.increment(actor(), license.id, 1)).rejects.toMatchObject({
        code: 'USAGE_LIMIT_EXCEEDED',
        status: 422,
        extensions: { maxUses: 10 },
      });
      expect(await eventCounts(ctx)).toEqual(before);
      await expect(row(license.id)).resolves.toMatchObject({ uses: 10 });

      await expect(usage.decrement(actor(), license.id, 3)).resolves.toMatchObject({
        uses: 7,
      });
      // Never below zero.
      await expect(usage.decrement(actor(), license.id, 100)).resolves.toMatchObject({
        uses: 0,
      });
      await usage.increment(actor(), license.id, 5);
      await expect(usage.reset(actor(), license.id)).resolves.toMatchObject({ uses: 0 });

      const events = [
        'license.created',
        'license.usage-incremented',
        'license.usage-incremented',
        'license.usage-decremented',
        'license.usage-decremented',
        'license.usage-incremented',
        'license.usage-reset',
      ];
      expect(await eventsOf(ctx, license.id)).toEqual({ outbox: events, audit: events });
      await ctx.linkAudit();
      const [first] = await ctx.dataSource.query<{ metadata: unknown }[]>(
        `SELECT metadata FROM audit_events WHERE target_id = $1 AND action = 'license.usage-incremented'
         ORDER BY sequence LIMIT 1`,
        [license.id],
      );
      expect(first.metadata).toEqual({ amount: 4 });
    });

    it("applies the license's maxUses over the policy's, and counts without limit when neither sets one", async () => {
      const { license } = await ctx.newLicense({
        policy: { maxUses: 100 },
        license: { maxUses: 2 },
      });
      await usage.increment(actor(), license.id, 2);
      await expect(usage.increment(actor(), license.id, 1)).rejects.toMatchObject({
        code: 'USAGE_LIMIT_EXCEEDED',
        extensions: { maxUses: 2 },
      });
      const zero = await ctx.newLicense({ license: { maxUses: 0 } });
      await expect(usage.increment(actor(), zero.license.id, 1)).rejects.toMatchObject({
        code: 'USAGE_LIMIT_EXCEEDED',
      });
      const unlimited = await ctx.newLicense();
      await expect(
        usage.increment(actor(), unlimited.license.id, 1_000_000),
      ).resolves.toMatchObject({ uses: 1_000_000, maxUses: null });
    });

    it('never passes maxUses however many increments race (10 rounds of 30 against 10)', async () => {
      for (let round = 0; round < 10; round++) {
        const { license } = await ctx.newLicense({ policy: { maxUses: 10 } });
        const outcomes = await Promise.allSettled(
          Array.from({ length: 30 }, () => usage.increment(actor(), license.id, 1)),
        );
        expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(10);
        const refused = outcomes.filter((o) => o.status === 'rejected');
        expect(refused).toHaveLength(20);
        for (const r of refused) {
          expect(r.reason).toMatchObject({ code: 'USAGE_LIMIT_EXCEEDED' });
        }
        // Each success saw a distinct count: the row lock serialised them.
        const seen = outcomes
          .filter((o) => o.status === 'fulfilled')
          .map((o) => o.value.uses)
          .sort((a, b) => a - b);
        expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
        await expect(row(license.id)).resolves.toMatchObject({ uses: 10, version: 11 });
        const { audit } = await eventsOf(ctx, license.id);
        expect(audit.filter((a) => a === 'license.usage-incremented')).toHaveLength(10);
      }
    });

    it('never passes maxUses with racing increments of different sizes', async () => {
      for (let round = 0; round < 5; round++) {
        const { license } = await ctx.newLicense({ policy: { maxUses: 25 } });
        const amounts = Array.from({ length: 20 }, (_, i) => (i % 4) + 1);
        const outcomes = await Promise.allSettled(
          amounts.map((amount) => usage.increment(actor(), license.id, amount)),
        );
        const accepted = amounts.filter((_, i) => outcomes[i].status === 'fulfilled');
        const { uses } = await row(license.id);
        expect(uses).toBe(accepted.reduce((sum, a) => sum + a, 0));
        expect(uses).toBeLessThanOrEqual(25);
        // Refused only when the amount no longer fitted: 25 - uses < smallest refused amount.
        const refused = amounts.filter((_, i) => outcomes[i].status === 'rejected');
        expect(refused.length).toBeGreaterThan(0);
        expect(25 - uses).toBeLessThan(Math.min(...refused));
      }
    });
  });
});
