import { randomUUID } from 'node:crypto';

import type { ActivateMachineDto } from 'src/modules/licenses/license.dto';
import type { MachineService } from 'src/modules/licenses/machine.service';
import { eventCounts, eventsOf, newLicensingContext } from 'test/medium/licenses/licensing-context';
import type { LicensingContext } from 'test/medium/licenses/licensing-context';
import { sessionsWaitingForLocks as waitForLocks } from 'test/support/test-database';

const ROUNDS = 10;
const PARALLEL = 50;
/**
 * Before the heartbeat locked the machine row, about 6 in 10 heartbeats sent after a deactivation (4 in 10 of
 * those sent before it) succeeded on the deleted machine, and a few even inserted it again.
 */
const HEARTBEAT_RACES = 40;

describe('MachineService (real PostgreSQL)', () => {
  let ctx: LicensingContext;
  let machines: MachineService;

  beforeAll(async () => {
    ctx = await newLicensingContext();
    machines = ctx.machines;
  });
  afterAll(async () => {
    await ctx.close();
  });
  beforeEach(() => ctx.clock.reset());

  const activate = (
    licenseId: string,
    fingerprint: string,
    extra: Omit<Partial<ActivateMachineDto>, 'licenseId'> = {},
  ) => machines.activate(ctx.actor, { licenseId, fingerprint, ...extra });

  async function machineCount(licenseId: string): Promise<number> {
    const [{ n }] = await ctx.dataSource.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM machines WHERE license_id = $1`,
      [licenseId],
    );
    return n;
  }

  /** Activates `PARALLEL` distinct fingerprints at once; returns the created machines and refusals. */
  async function activateAtOnce(licenseId: string) {
    const outcomes = await Promise.allSettled(
      Array.from({ length: PARALLEL }, (_, i) => activate(licenseId, `fp-${i}`)),
    );
    return {
      created: outcomes.filter((o) => o.status === 'fulfilled').map((o) => o.value),
      refused: outcomes.filter((o) => o.status === 'rejected').map((o) => o.reason as unknown),
    };
  }

  /** A deactivation and a heartbeat of one machine at once, the heartbeat sent first or second. */
  function deactivateWhileBeating(id: string, heartbeatFirst: boolean) {
    const beat = heartbeatFirst ? machines.heartbeat(ctx.actor, id) : undefined;
    const deactivation = machines.deactivate(ctx.actor, id);
    return Promise.allSettled([deactivation, beat ?? machines.heartbeat(ctx.actor, id)]);
  }

  const sessionsWaitingForLocks = (count: number) =>
    waitForLocks((sql) => ctx.dataSource.query(sql), count);

  describe('activation', () => {
    it('activates a machine, with machine.activated in the license stream and an audit row on the machine', async () => {
      const { license } = await ctx.newLicense({ policy: { floating: true, maxMachines: 3 } });
      const machine = await activate(license.id, 'fp-a', {
        name: 'Build box',
        platform: 'linux',
        hostname: 'ci-1',
        cores: 16,
        version: '3.2.1',
      });
      expect(machine).toEqual({
        id: expect.any(String),
        licenseId: license.id,
        fingerprint: 'fp-a',
        name: 'Build box',
        platform: 'linux',
        hostname: 'ci-1',
        cores: 16,
        version: '3.2.1',
        // No GeoIP database in this context: no country.
        country: null,
        lastHeartbeatAt: null,
        createdAt: expect.any(String),
      });
      await expect(machines.get(machine.id)).resolves.toEqual(machine);
      await expect(machines.list(license.id, 10, undefined)).resolves.toEqual({
        data: [machine],
        nextCursor: null,
      });

      // Machine events belong to the license's stream: one ordered sequence per license.
      const stream = await ctx.dataSource.query<
        { type: string; sequence: string; aggregate_type: string; data: unknown }[]
      >(
        `SELECT type, sequence, aggregate_type, data FROM outbox_events WHERE aggregate_id = $1 ORDER BY sequence`,
        [license.id],
      );
      expect(stream).toEqual([
        expect.objectContaining({ type: 'license.created', sequence: '1' }),
        { type: 'machine.activated', sequence: '2', aggregate_type: 'license', data: machine },
      ]);
      expect(await eventsOf(ctx, machine.id)).toEqual({ outbox: [], audit: ['machine.activated'] });
    });

    it.each(['suspend', 'revoke'] as const)(
      'refuses activation on a license after %s with LICENSE_NOT_ACTIVE (409), writing nothing',
      async (action) => {
        const { license } = await ctx.newLicense({ policy: { floating: true } });
        await ctx.licenses[action](ctx.actor, license.id);
        const before = await eventCounts(ctx);
        await expect(activate(license.id, 'fp')).rejects.toMatchObject({
          code: 'LICENSE_NOT_ACTIVE',
          status: 409,
        });
        expect(await eventCounts(ctx)).toEqual(before);
        expect(await machineCount(license.id)).toBe(0);
      },
    );

    it('refuses activation on an unknown license with LICENSE_NOT_FOUND', async () => {
      await expect(activate(randomUUID(), 'fp')).rejects.toMatchObject({
        code: 'LICENSE_NOT_FOUND',
        status: 404,
      });
    });

    it.each([
      ['RESTRICT_ACCESS', 'LICENSE_EXPIRED'],
      ['REVOKE_ACCESS', 'LICENSE_EXPIRED'],
      ['MAINTAIN_ACCESS', 'LICENSE_EXPIRED'],
      ['ALLOW_ACCESS', null],
    ] as const)(
      'after expiry with %s, %s for new machines while existing ones stay',
      async (expirationStrategy, refusal) => {
        const { license } = await ctx.newLicense({
          policy: { durationSeconds: 86_400, expirationStrategy, floating: true, maxMachines: 5 },
        });
        const kept = await activate(license.id, 'fp-before');
        ctx.clock.advance(2 * 86_400_000);
        try {
          if (refusal === null) {
            await expect(activate(license.id, 'fp-after')).resolves.toMatchObject({
              licenseId: license.id,
            });
          } else {
            const before = await eventCounts(ctx);
            await expect(activate(license.id, 'fp-after')).rejects.toMatchObject({
              code: refusal,
              status: 409,
            });
            expect(await eventCounts(ctx)).toEqual(before);
          }
          await expect(machines.get(kept.id)).resolves.toMatchObject({ fingerprint: 'fp-before' });
        } finally {
          ctx.clock.reset();
        }
      },
    );

    it('binds a node-locked license without a limit to one machine', async () => {
      const { license } = await ctx.newLicense({ policy: { floating: false } });
      await activate(license.id, 'only');
      await expect(activate(license.id, 'second')).rejects.toMatchObject({
        code: 'TOO_MANY_MACHINES',
        status: 422,
        extensions: { allowance: 1 },
      });
    });

    it('lets a floating license without a limit activate any number of machines, also at once', async () => {
      const { license } = await ctx.newLicense({ policy: { floating: true } });
      const { created, refused } = await activateAtOnce(license.id);
      expect(refused).toEqual([]);
      expect(created).toHaveLength(PARALLEL);
      expect(await machineCount(license.id)).toBe(PARALLEL);
    });
  });

  describe('fingerprints', () => {
    it('refuses a fingerprint the license has already with FINGERPRINT_TAKEN (409), writing nothing', async () => {
      const { license } = await ctx.newLicense({ policy: { floating: true, maxMachines: 5 } });
      await activate(license.id, 'same');
      const before = await eventCounts(ctx);
      await expect(activate(license.id, 'same')).rejects.toMatchObject({
        code: 'FINGERPRINT_TAKEN',
        status: 409,
      });
      expect(await eventCounts(ctx)).toEqual(before);
      // Another license may use it.
      const other = await ctx.newLicense({ policy: { floating: true } });
      await expect(activate(other.license.id, 'same')).resolves.toMatchObject({
        fingerprint: 'same',
      });
    });

    it('activates one fingerprint once however many activations race', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const { license } = await ctx.newLicense({ policy: { floating: true } });
        const outcomes = await Promise.allSettled(
          Array.from({ length: 20 }, () => activate(license.id, 'contested')),
        );
        expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
        for (const o of outcomes.filter((o) => o.status === 'rejected')) {
          expect(o.reason).toMatchObject({ code: 'FINGERPRINT_TAKEN' });
        }
        expect(await machineCount(license.id)).toBe(1);
      }
    });

    it('is unique per license by a database constraint, not only by the check', async () => {
      const { license } = await ctx.newLicense({ policy: { floating: true } });
      await activate(license.id, 'fp-constraint');
      await expect(
        ctx.dataSource.query(`INSERT INTO machines (license_id, fingerprint) VALUES ($1, $2)`, [
          license.id,
          'fp-constraint',
        ]),
      ).rejects.toMatchObject({ constraint: 'uq_machines_license_fingerprint' });
    });
  });

  describe('seat limits under concurrency', () => {
    it.each([
      ['NO_OVERAGE', 5],
      ['ALLOW_1_25X', 6],
      ['ALLOW_1_5X', 7],
      ['ALLOW_2X', 10],
      ['ALWAYS_ALLOW', PARALLEL],
    ] as const)(
      `%s against 5 seats: ${PARALLEL} parallel activations create exactly %i, ${ROUNDS} rounds`,
      async (overageStrategy, allowed) => {
        const policy = await ctx.newPolicy({ floating: true, maxMachines: 5, overageStrategy });
        for (let round = 0; round < ROUNDS; round++) {
          const { license } = await ctx.newLicense({ policy });
          const { created, refused } = await activateAtOnce(license.id);
          expect(created).toHaveLength(allowed);
          expect(refused).toHaveLength(PARALLEL - allowed);
          for (const error of refused) {
            expect(error).toMatchObject({
              code: 'TOO_MANY_MACHINES',
              status: 422,
              extensions: { allowance: allowed },
            });
          }
          expect(await machineCount(license.id)).toBe(allowed);
          const { outbox } = await eventsOf(ctx, license.id);
          expect(outbox.filter((t) => t === 'machine.activated')).toHaveLength(allowed);
        }
      },
    );

    it("applies the overage to the license's own machine limit", async () => {
      const policy = await ctx.newPolicy({
        floating: true,
        maxMachines: 20,
        overageStrategy: 'ALLOW_2X',
      });
      for (let round = 0; round < 3; round++) {
        const { license } = await ctx.newLicense({ policy, license: { maxMachines: 3 } });
        const { created } = await activateAtOnce(license.id);
        expect(created).toHaveLength(6);
      }
    });

    it('rounds the overage down: 1.25 x 3 seats allows 3, 1.5 x 3 allows 4', async () => {
      for (const [overageStrategy, allowed] of [
        ['ALLOW_1_25X', 3],
        ['ALLOW_1_5X', 4],
      ] as const) {
        const { license } = await ctx.newLicense({
          policy: { floating: true, maxMachines: 3, overageStrategy },
        });
        const { created } = await activateAtOnce(license.id);
        expect(created).toHaveLength(allowed);
      }
    });
  });

  describe('deactivation', () => {
    it('frees the seat, with machine.deactivated in the license stream', async () => {
      const { license } = await ctx.newLicense({ policy: { floating: true, maxMachines: 1 } });
      const first = await activate(license.id, 'first');
      await expect(activate(license.id, 'second')).rejects.toMatchObject({
        code: 'TOO_MANY_MACHINES',
      });
      await machines.deactivate(ctx.actor, first.id);
      await expect(machines.get(first.id)).rejects.toMatchObject({
        code: 'MACHINE_NOT_FOUND',
        status: 404,
      });
      await expect(activate(license.id, 'second')).resolves.toMatchObject({
        fingerprint: 'second',
      });
      expect((await eventsOf(ctx, license.id)).outbox).toEqual([
        'license.created',
        'machine.activated',
        'machine.deactivated',
        'machine.activated',
      ]);
      expect((await eventsOf(ctx, first.id)).audit).toEqual([
        'machine.activated',
        'machine.deactivated',
      ]);
    });

    it('answers MACHINE_NOT_FOUND for an unknown machine, writing nothing', async () => {
      const before = await eventCounts(ctx);
      await expect(machines.deactivate(ctx.actor, randomUUID())).rejects.toMatchObject({
        code: 'MACHINE_NOT_FOUND',
      });
      await expect(machines.heartbeat(ctx.actor, randomUUID())).rejects.toMatchObject({
        code: 'MACHINE_NOT_FOUND',
      });
      expect(await eventCounts(ctx)).toEqual(before);
    });

    it('never holds more machines than seats while deactivations and activations race', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const { license } = await ctx.newLicense({ policy: { floating: true, maxMachines: 5 } });
        const seated = await Promise.all(
          Array.from({ length: 5 }, (_, i) => activate(license.id, `seated-${i}`)),
        );
        const outcomes = await Promise.allSettled([
          machines.deactivate(ctx.actor, seated[0].id),
          machines.deactivate(ctx.actor, seated[1].id),
          ...Array.from({ length: 10 }, (_, i) => activate(license.id, `new-${i}`)),
        ]);
        expect(outcomes.slice(0, 2).map((o) => o.status)).toEqual(['fulfilled', 'fulfilled']);
        const activated = outcomes.slice(2).filter((o) => o.status === 'fulfilled').length;
        expect(activated).toBeLessThanOrEqual(2);
        expect(await machineCount(license.id)).toBe(3 + activated);
      }
    });
  });

  describe('heartbeat', () => {
    it('stamps lastHeartbeatAt with the time, recorded on the machine', async () => {
      ctx.clock.pin();
      const { license } = await ctx.newLicense({
        policy: { floating: true, requireHeartbeat: true, heartbeatDurationSeconds: 600 },
      });
      const machine = await activate(license.id, 'hb');
      ctx.clock.advance(90_000);
      const beat = await machines.heartbeat(ctx.actor, machine.id);
      expect(beat).toEqual({ ...machine, lastHeartbeatAt: ctx.clock.now().toISOString() });
      await expect(machines.get(machine.id)).resolves.toEqual(beat);
      expect((await eventsOf(ctx, machine.id)).audit).toEqual([
        'machine.activated',
        'machine.heartbeat',
      ]);
      expect((await eventsOf(ctx, license.id)).outbox).toEqual([
        'license.created',
        'machine.activated',
        'machine.heartbeat',
      ]);
    });

    it('makes a heartbeat wait for a deactivation in progress, then answers MACHINE_NOT_FOUND and records nothing', async () => {
      const { license } = await ctx.newLicense({ policy: { floating: true } });
      const [id] = await ctx.newMachines(license.id, 1);
      // Holding off audit inserts stops the deactivation after it has deleted the row, before it commits.
      // Linking first leaves no link pass to wait on the gate as well.
      await ctx.linkAudit();
      const gate = ctx.dataSource.createQueryRunner();
      await gate.connect();
      await gate.startTransaction();
      try {
        await gate.query(`LOCK TABLE audit_pending IN SHARE MODE`);
        const deactivation = machines.deactivate(ctx.actor, id);
        await sessionsWaitingForLocks(1);
        const beat = machines.heartbeat(ctx.actor, id);
        beat.catch(() => undefined); // settled below, after the gate opens
        await sessionsWaitingForLocks(2);
        await gate.commitTransaction();
        await deactivation;
        await expect(beat).rejects.toMatchObject({ code: 'MACHINE_NOT_FOUND', status: 404 });
      } finally {
        if (gate.isTransactionActive) {
          await gate.rollbackTransaction();
        }
        await gate.release();
      }
      expect(await eventsOf(ctx, id)).toEqual({ outbox: [], audit: ['machine.deactivated'] });
      expect((await eventsOf(ctx, license.id)).outbox).toEqual([
        'license.created',
        'machine.deactivated',
      ]);
      expect(await machineCount(license.id)).toBe(0);
    });

    it('never records a heartbeat after the deactivation of its machine, however the two race', async () => {
      const { license } = await ctx.newLicense({ policy: { floating: true } });
      const ids = await ctx.newMachines(license.id, HEARTBEAT_RACES);
      for (const [round, id] of ids.entries()) {
        // Sent in both orders: which reaches the row first varies, and either way the outcome must hold.
        const [deactivation, beat] = await deactivateWhileBeating(id, round % 2 === 1);
        expect(deactivation.status).toBe('fulfilled');
        const stream = await ctx.dataSource.query<{ type: string }[]>(
          `SELECT type FROM outbox_events WHERE aggregate_id = $1 AND data->>'id' = $2 ORDER BY sequence`,
          [license.id, id],
        );
        // Either the heartbeat committed first, or it waited for the deactivation and found nothing.
        const outcome =
          beat.status === 'fulfilled' ? 'beat' : (beat.reason as { code?: unknown }).code;
        expect([
          ['beat', ['machine.heartbeat', 'machine.deactivated']],
          ['MACHINE_NOT_FOUND', ['machine.deactivated']],
        ]).toContainEqual([outcome, stream.map((e) => e.type)]);
      }
      expect(await machineCount(license.id)).toBe(0);
    });
  });

  describe('heartbeat on a license validation denies', () => {
    const HOUR = 3_600_000;
    const meta = { ip: '203.0.113.9', userAgent: 'acme-app/2.1', requestId: 'req-dead' };
    const heartbeatPolicy = {
      floating: true,
      requireHeartbeat: true,
      heartbeatDurationSeconds: 600,
      requireCheckIn: true,
      checkInIntervalSeconds: 86_400,
    };
    // Each case takes a license with one beating machine into a state validation denies.
    const deniedStates: [string, (licenseId: string) => Promise<unknown> | void, string][] = [
      ['suspended', (id) => ctx.licenses.suspend(ctx.actor, id), 'LICENSE_SUSPENDED'],
      ['revoked', (id) => ctx.licenses.revoke(ctx.actor, id), 'LICENSE_REVOKED'],
      ['expired under RESTRICT_ACCESS', () => ctx.clock.advance(2 * HOUR), 'LICENSE_EXPIRED'],
      ['overdue for its check-in', () => ctx.clock.advance(25 * HOUR), 'LICENSE_OVERDUE'],
    ];

    it.each(deniedStates)(
      "refuses heartbeats of a %s license with validation's code, both ways, and leaves the machine as it was",
      async (_state, deny, code) => {
        ctx.clock.pin();
        const { license } = await ctx.newLicense({
          policy: heartbeatPolicy,
          license: {
            // Expires after the first heartbeat and before the second (and long after for the other cases).
            expiresAt: new Date(
              ctx.clock.now().getTime() + (code === 'LICENSE_EXPIRED' ? HOUR : 48 * HOUR),
            ).toISOString(),
          },
        });
        const machine = await activate(license.id, 'seat');
        const beating = await machines.heartbeat(ctx.actor, machine.id);
        await deny(license.id);
        ctx.clock.advance(60_000);
        const before = await eventCounts(ctx);

        await expect(machines.heartbeat(ctx.actor, machine.id)).rejects.toMatchObject({
          code,
          status: 422,
        });
        await expect(ctx.machineKeys.heartbeat(license.key, 'seat', meta)).rejects.toMatchObject({
          code,
          status: 422,
        });

        await expect(machines.get(machine.id)).resolves.toEqual(beating);
        expect(await eventCounts(ctx)).toEqual(before);
        const validation = await ctx.validation.validate({
          key: license.key,
          scope: { fingerprint: 'seat' },
        });
        expect(`LICENSE_${validation.code}`).toBe(code);
      },
    );

    it('keeps taking heartbeats of an expired license whose policy maintains access', async () => {
      ctx.clock.pin();
      const { license } = await ctx.newLicense({
        policy: { ...heartbeatPolicy, expirationStrategy: 'MAINTAIN_ACCESS' },
        license: { expiresAt: new Date(ctx.clock.now().getTime() + HOUR).toISOString() },
      });
      const machine = await activate(license.id, 'maintained');
      ctx.clock.advance(2 * HOUR);
      await expect(
        ctx.machineKeys.heartbeat(license.key, 'maintained', meta),
      ).resolves.toMatchObject({
        id: machine.id,
        lastHeartbeatAt: ctx.clock.now().toISOString(),
      });
    });

    it('takes heartbeats again once a suspended license is reinstated', async () => {
      const { license } = await ctx.newLicense({ policy: heartbeatPolicy });
      const machine = await activate(license.id, 'back');
      await ctx.licenses.suspend(ctx.actor, license.id);
      await expect(machines.heartbeat(ctx.actor, machine.id)).rejects.toMatchObject({
        code: 'LICENSE_SUSPENDED',
      });
      await ctx.licenses.reinstate(ctx.actor, license.id);
      await expect(machines.heartbeat(ctx.actor, machine.id)).resolves.toMatchObject({
        id: machine.id,
      });
    });
  });

  describe('with the license key as the credential', () => {
    const meta = { ip: '203.0.113.7', userAgent: 'acme-app/2.1', requestId: 'req-key' };

    it('activates and beats for the key holder, recorded as anonymous with its address', async () => {
      const { license } = await ctx.newLicense({
        policy: { floating: true, maxMachines: 1, requireHeartbeat: true },
      });
      // Typed loosely, the key still identifies the license.
      const typed = license.key.toLowerCase().replace(/-/g, ' ');
      const machine = await ctx.machineKeys.activate(
        typed,
        { fingerprint: 'app-1', platform: 'macos' },
        meta,
      );
      expect(machine).toMatchObject({ licenseId: license.id, fingerprint: 'app-1' });
      await expect(
        ctx.machineKeys.activate(license.key, { fingerprint: 'app-2' }, meta),
      ).rejects.toMatchObject({ code: 'TOO_MANY_MACHINES' });
      ctx.clock.pin();
      await expect(ctx.machineKeys.heartbeat(license.key, 'app-1', meta)).resolves.toMatchObject({
        id: machine.id,
        lastHeartbeatAt: ctx.clock.now().toISOString(),
      });

      await ctx.linkAudit();
      const audit = await ctx.dataSource.query<
        { action: string; actor_type: string; actor_id: string | null; actor_ip: string }[]
      >(
        `SELECT action, actor_type, actor_id, actor_ip FROM audit_events WHERE target_id = $1 ORDER BY sequence`,
        [machine.id],
      );
      expect(audit).toEqual([
        { action: 'machine.activated', actor_type: 'anonymous', actor_id: null, actor_ip: meta.ip },
        { action: 'machine.heartbeat', actor_type: 'anonymous', actor_id: null, actor_ip: meta.ip },
      ]);
    });

    it('refuses an unknown key with INVALID_LICENSE_KEY (401) and an unknown fingerprint with MACHINE_NOT_FOUND', async () => {
      const { license } = await ctx.newLicense({ policy: { floating: true } });
      const before = await eventCounts(ctx);
      await expect(
        ctx.machineKeys.activate('AAAAA-BBBBB-CCCCC-DDDDD-EEEEE-FFFFF', { fingerprint: 'x' }, meta),
      ).rejects.toMatchObject({ code: 'INVALID_LICENSE_KEY', status: 401 });
      await expect(
        ctx.machineKeys.heartbeat('AAAAA-BBBBB-CCCCC-DDDDD-EEEEE-FFFFF', 'x', meta),
      ).rejects.toMatchObject({ code: 'INVALID_LICENSE_KEY' });
      await expect(ctx.machineKeys.heartbeat(license.key, 'never', meta)).rejects.toMatchObject({
        code: 'MACHINE_NOT_FOUND',
      });
      expect(await eventCounts(ctx)).toEqual(before);
    });

    it('holds the seat limit for key holders activating at once', async () => {
      for (let round = 0; round < 3; round++) {
        const { license } = await ctx.newLicense({ policy: { floating: true, maxMachines: 5 } });
        const outcomes = await Promise.allSettled(
          Array.from({ length: PARALLEL }, (_, i) =>
            ctx.machineKeys.activate(license.key, { fingerprint: `k-${i}` }, meta),
          ),
        );
        expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(5);
        expect(await machineCount(license.id)).toBe(5);
      }
    });
  });
});
