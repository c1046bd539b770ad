import type { CreatePolicyDto, MachineDto } from 'src/modules/licenses/license.dto';
import { newLicensingContext } from 'test/medium/licenses/licensing-context';
import type { LicensingContext, LicensingInstance } from 'test/medium/licenses/licensing-context';

const MINUTE = 60_000;
// Dead machines of many licenses, more than one job's batch (500): each instance claims some, whatever the
// timing. While machines were claimed in id order, two instances deadlocked (40P01) in 30 rounds of 30.
const SPREAD_LICENSES = 20;
const SPREAD_MACHINES = 30;
const SPREAD_ROUNDS = 5;

/** The job that frees the seats of floating licenses' dead machines (docs/licensing.md, policies). */
describe('culling dead machines (real PostgreSQL)', () => {
  let ctx: LicensingContext;
  let other: LicensingInstance;

  beforeAll(async () => {
    ctx = await newLicensingContext();
    other = await ctx.newInstance();
  });
  afterAll(async () => {
    await other.close();
    await ctx.close();
  });
  beforeEach(() => {
    ctx.clock.reset();
    other.clock.reset();
  });

  const heartbeatPolicy = (fields: Partial<CreatePolicyDto> = {}) =>
    ctx.newPolicy({
      floating: true,
      requireHeartbeat: true,
      heartbeatDurationSeconds: 600,
      ...fields,
    });

  const activate = (licenseId: string, fingerprint: string) =>
    ctx.machines.activate(ctx.actor, { licenseId, fingerprint });

  async function exists(machine: MachineDto): Promise<boolean> {
    const rows = await ctx.dataSource.query<unknown[]>(`SELECT 1 FROM machines WHERE id = $1`, [
      machine.id,
    ]);
    return rows.length === 1;
  }

  /** The latest audit sequence: what a job writes afterwards has a higher one. */
  async function auditHead(): Promise<number> {
    await ctx.linkAudit();
    const [{ head }] = await ctx.dataSource.query<{ head: string }[]>(
      `SELECT COALESCE(max(sequence), 0) AS head FROM audit_events`,
    );
    return Number(head);
  }

  async function cullAuditsAfter(sequence: number) {
    await ctx.linkAudit();
    return ctx.dataSource.query<
      {
        actor_type: string;
        target_type: string;
        target_id: string | null;
        metadata: { machines: string[]; reason: string };
      }[]
    >(
      `SELECT actor_type, target_type, target_id, metadata FROM audit_events
       WHERE sequence > $1 AND action = 'machine.culled' ORDER BY sequence`,
      [sequence],
    );
  }

  it('culls machines whose last heartbeat, or activation if none, is older than the duration', async () => {
    const { license } = await ctx.newLicense({ policy: await heartbeatPolicy() });
    const silent = await activate(license.id, 'silent');
    const stopped = await activate(license.id, 'stopped');
    const alive = await activate(license.id, 'alive');
    await ctx.machines.heartbeat(ctx.actor, stopped.id);
    ctx.clock.advance(5 * MINUTE);
    await ctx.machines.heartbeat(ctx.actor, alive.id);
    // Not yet: ten minutes have not passed for anyone.
    ctx.clock.advance(4 * MINUTE);
    const head = await auditHead();
    await ctx.machines.cullDeadMachines();
    expect(await cullAuditsAfter(head)).toEqual([]);
    expect([await exists(silent), await exists(stopped), await exists(alive)]).toEqual([
      true,
      true,
      true,
    ]);

    ctx.clock.advance(2 * MINUTE);
    const culled = await ctx.machines.cullDeadMachines();
    expect(culled).toBeGreaterThanOrEqual(2);
    expect([await exists(silent), await exists(stopped), await exists(alive)]).toEqual([
      false,
      false,
      true,
    ]);
  });

  it('records one machine.culled event per machine in its license stream and one audit row by the system', async () => {
    const { license } = await ctx.newLicense({ policy: await heartbeatPolicy() });
    const dead = [await activate(license.id, 'd-1'), await activate(license.id, 'd-2')];
    ctx.clock.advance(11 * MINUTE);
    const head = await auditHead();
    const culled = await ctx.machines.cullDeadMachines();

    const stream = await ctx.dataSource.query<{ type: string; sequence: string; data: unknown }[]>(
      `SELECT type, sequence, data FROM outbox_events WHERE aggregate_id = $1 ORDER BY sequence`,
      [license.id],
    );
    expect(stream.map((e) => [e.type, Number(e.sequence)])).toEqual([
      ['license.created', 1],
      ['machine.activated', 2],
      ['machine.activated', 3],
      ['machine.culled', 4],
      ['machine.culled', 5],
    ]);
    expect(stream.slice(3).map((e) => e.data)).toEqual(
      expect.arrayContaining(
        dead.map((m) => ({ id: m.id, licenseId: license.id, fingerprint: m.fingerprint })),
      ),
    );
    const audits = await cullAuditsAfter(head);
    expect(audits).toEqual([
      {
        actor_type: 'system',
        target_type: 'machine',
        target_id: null,
        metadata: { machines: expect.any(Array), reason: 'heartbeat-dead' },
      },
    ]);
    expect(audits[0].metadata.machines).toHaveLength(culled);
    expect(audits[0].metadata.machines).toEqual(expect.arrayContaining(dead.map((m) => m.id)));
  });

  it('frees the seats of culled machines', async () => {
    const { license } = await ctx.newLicense({ policy: await heartbeatPolicy({ maxMachines: 1 }) });
    await activate(license.id, 'gone-quiet');
    ctx.clock.advance(11 * MINUTE);
    await expect(activate(license.id, 'replacement')).rejects.toMatchObject({
      code: 'TOO_MANY_MACHINES',
    });
    await ctx.machines.cullDeadMachines();
    await expect(activate(license.id, 'replacement')).resolves.toMatchObject({
      fingerprint: 'replacement',
    });
  });

  it('frees the seat of a machine on a suspended license on schedule, however often it keeps beating', async () => {
    ctx.clock.pin();
    const { license } = await ctx.newLicense({ policy: await heartbeatPolicy({ maxMachines: 1 }) });
    const machine = await activate(license.id, 'still-pinging');
    await ctx.machines.heartbeat(ctx.actor, machine.id);
    await ctx.licenses.suspend(ctx.actor, license.id);
    // The app keeps pinging every minute; none of it counts.
    for (let minute = 1; minute <= 10; minute++) {
      ctx.clock.advance(MINUTE);
      await expect(ctx.machines.heartbeat(ctx.actor, machine.id)).rejects.toMatchObject({
        code: 'LICENSE_SUSPENDED',
      });
    }
    await ctx.machines.cullDeadMachines();
    expect(await exists(machine)).toBe(true);
    // Ten minutes after the last accepted heartbeat the seat is free.
    ctx.clock.advance(MINUTE);
    await ctx.machines.cullDeadMachines();
    expect(await exists(machine)).toBe(false);
  });

  it('leaves node-locked machines and machines of policies without heartbeats alone', async () => {
    const nodeLocked = await ctx.newLicense({
      policy: await heartbeatPolicy({ floating: false, maxMachines: 1 }),
    });
    const noHeartbeat = await ctx.newLicense({
      policy: await heartbeatPolicy({ requireHeartbeat: false }),
    });
    const kept = [
      await activate(nodeLocked.license.id, 'n'),
      await activate(noHeartbeat.license.id, 'h'),
    ];
    ctx.clock.advance(365 * 24 * 60 * MINUTE);
    await ctx.machines.cullDeadMachines();
    expect([await exists(kept[0]), await exists(kept[1])]).toEqual([true, true]);
  });

  it('culls a machine of a heartbeat policy without a duration when validation calls it dead, after the default 10 minutes', async () => {
    ctx.clock.pin();
    const { license } = await ctx.newLicense({
      policy: await heartbeatPolicy({ heartbeatDurationSeconds: null }),
    });
    const machine = await activate(license.id, 'default-duration');
    await ctx.machines.heartbeat(ctx.actor, machine.id);
    const validate = async () =>
      (
        await ctx.validation.validate({
          key: license.key,
          scope: { fingerprint: 'default-duration' },
        })
      ).code;

    ctx.clock.advance(10 * MINUTE);
    await ctx.machines.cullDeadMachines();
    expect([await validate(), await exists(machine)]).toEqual(['VALID', true]);

    // One millisecond later both agree it is dead.
    ctx.clock.advance(1);
    expect(await validate()).toBe('HEARTBEAT_DEAD');
    await ctx.machines.cullDeadMachines();
    expect(await exists(machine)).toBe(false);
  });

  it('culls the dead machines of many licenses from two instances at once without deadlocking, round after round', async () => {
    const policy = await heartbeatPolicy();
    const licenses = await Promise.all(
      Array.from(
        { length: SPREAD_LICENSES },
        async () => (await ctx.newLicense({ policy })).license,
      ),
    );
    for (let round = 0; round < SPREAD_ROUNDS; round++) {
      ctx.clock.reset();
      other.clock.reset();
      ctx.clock.advance(11 * MINUTE);
      other.clock.advance(11 * MINUTE);
      // Culls what earlier tests and rounds left to die, so that the race below has exactly the seeded machines.
      await ctx.machines.cullDeadMachines();
      // Random ids: in id order, the machines of all licenses interleave.
      const dead = (
        await Promise.all(licenses.map((l) => ctx.newMachines(l.id, SPREAD_MACHINES)))
      ).flat();
      const head = await auditHead();

      // Settled both: a failed job must not leave the other one running into the next test.
      const jobs = await Promise.allSettled([
        ctx.machines.cullDeadMachines(),
        other.machines.cullDeadMachines(),
      ]);

      expect(jobs.map((j) => (j.status === 'fulfilled' ? 'done' : String(j.reason)))).toEqual([
        'done',
        'done',
      ]);
      const culled = jobs.map((j) => (j.status === 'fulfilled' ? j.value : 0));
      expect(culled[0] + culled[1]).toBe(dead.length);
      const audited = (await cullAuditsAfter(head)).flatMap((a) => a.metadata.machines);
      expect(audited.sort()).toEqual([...dead].sort());
      const events = await ctx.dataSource.query<{ id: string }[]>(
        `SELECT data->>'id' AS id FROM outbox_events
         WHERE type = 'machine.culled' AND data->>'id' = ANY($1::text[])`,
        [dead],
      );
      expect(events.map((e) => e.id).sort()).toEqual([...dead].sort());
    }
  });

  it('culls each machine once when two instances run the job at the same moment, round after round', async () => {
    const policy = await heartbeatPolicy();
    for (let round = 0; round < 10; round++) {
      ctx.clock.reset();
      other.clock.reset();
      ctx.clock.advance(11 * MINUTE);
      other.clock.advance(11 * MINUTE);
      // Culls what earlier tests left to die, so that the race below has exactly the machines it seeds.
      await ctx.machines.cullDeadMachines();
      const { license } = await ctx.newLicense({ policy });
      // Enough rows that the two jobs' scans overlap and SKIP LOCKED splits them (within one batch).
      const dead = await ctx.newMachines(license.id, 400);
      const live = await activate(license.id, `live-${round}`);
      await ctx.machines.heartbeat(ctx.actor, live.id);
      const head = await auditHead();

      const [mine, theirs] = await Promise.all([
        ctx.machines.cullDeadMachines(),
        other.machines.cullDeadMachines(),
      ]);

      expect(mine + theirs).toBe(dead.length);
      const audited = (await cullAuditsAfter(head)).flatMap((a) => a.metadata.machines);
      expect(audited.sort()).toEqual([...dead].sort());
      const events = await ctx.dataSource.query<{ id: string; sequence: string }[]>(
        `SELECT data->>'id' AS id, sequence FROM outbox_events
         WHERE type = 'machine.culled' AND aggregate_id = $1 ORDER BY sequence`,
        [license.id],
      );
      expect(events.map((e) => e.id).sort()).toEqual([...dead].sort());
      // One gapless stream per license, whichever instance wrote which event (after created,
      // activated and heartbeat).
      expect(events.map((e) => Number(e.sequence))).toEqual(
        Array.from({ length: dead.length }, (_, i) => i + 4),
      );
      await expect(ctx.machines.list(license.id, 10, undefined)).resolves.toMatchObject({
        data: [{ id: live.id }],
      });
    }
  });
});
