import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import fc from 'fast-check';

import type { CustomerDto } from 'src/modules/customers/customer.dto';
import type { PolicyDto } from 'src/modules/licenses/license.dto';
import type { TimeSeriesDto } from 'src/modules/reports/report.dto';
import { ReportModule } from 'src/modules/reports/report.module';
import type { Interval } from 'src/modules/reports/report.repository';
import { ReportService } from 'src/modules/reports/report.service';
import { UsageFolder } from 'src/modules/reports/usage-folder';
import { ALL_SCOPE } from 'src/modules/reports/usage-counts';
import { newLicensingContext } from 'test/medium/licenses/licensing-context';
import type { LicensingContext } from 'test/medium/licenses/licensing-context';
import { expectedBuckets, localBucketKey } from 'test/medium/reports/report-oracle';
import { writeCountryMmdb } from 'test/support/mmdb-writer';

const MINUTE = 60_000;
const DAY = 86_400_000;
const UNKNOWN_KEY = 'AAAAA-BBBBB-CCCCC-DDDDD-EEEEE-FFFFF';
const WINDOW_DAYS = 5;
// Windows holding a DST change: the US spring forward (8 March), the EU one (29 March), the EU fall back
// (25 October) and the US one (1 November) of 2026.
const WINDOWS = [
  '2026-03-06T09:00:00Z',
  '2026-03-27T00:00:00Z',
  '2026-10-23T17:30:00Z',
  '2026-10-30T00:00:00Z',
  // Lord Howe Island's 30-minute shift back (5 April 2026).
  '2026-04-02T00:00:00Z',
].map((at) => new Date(at));
const ZONES = [
  'UTC',
  'Europe/Berlin',
  'America/New_York',
  'Asia/Kolkata',
  'Asia/Kathmandu',
  'Australia/Lord_Howe',
];
const INTERVALS: Interval[] = ['hour', 'day', 'week', 'month'];

type Kind = 'validate' | 'unknown' | 'activate' | 'deactivate' | 'suspend' | 'reinstate' | 'issue';
interface Counted {
  at: Date;
  report: 'validations' | 'activations' | 'licenses';
  dim: string;
  productId: string | null;
  policyId: string | null;
  customerId: string | null;
}

describe('Reports (real PostgreSQL)', () => {
  let ctx: LicensingContext;
  let reports: ReportService;
  let folder: UsageFolder;
  let policies: PolicyDto[];
  let customers: CustomerDto[];
  let licenses: Array<{ id: string; key: string; policy: PolicyDto; customer: CustomerDto }>;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-geoip-'));
    const geoip = join(dir, 'countries.mmdb');
    writeFileSync(
      geoip,
      writeCountryMmdb([
        { network: '81.2.69.0/24', isoCode: 'GB' },
        { network: '2.125.160.0/20', isoCode: 'DE' },
      ]),
    );
    ctx = await newLicensingContext({ imports: [ReportModule], env: { GEOIP_DB_FILE: geoip } });
    reports = ctx.get(ReportService);
    folder = ctx.get(UsageFolder);
    // The test folds when it chooses.
    await folder.onModuleDestroy();

    const [productA, productB] = [await ctx.newProduct(), await ctx.newProduct()];
    policies = [
      await ctx.newPolicy({ productId: productA.id, floating: true, maxMachines: 1000 }),
      await ctx.newPolicy({ productId: productA.id, floating: true, maxMachines: 1000 }),
      await ctx.newPolicy({ productId: productB.id, floating: true, maxMachines: 1000 }),
    ];
    customers = [await ctx.newCustomer(), await ctx.newCustomer()];
    const pairs: Array<[number, number]> = [
      [0, 0],
      [1, 0],
      [2, 1],
      [0, 1],
    ];
    licenses = [];
    for (const [policy, customer] of pairs) {
      const issued = await ctx.licenses.issue(ctx.actor, {
        policyId: policies[policy].id,
        customerId: customers[customer].id,
      });
      licenses.push({
        id: issued.id,
        key: issued.key,
        policy: policies[policy],
        customer: customers[customer],
      });
    }
  });
  afterAll(async () => {
    await ctx.close();
  });
  beforeEach(() => {
    ctx.clock.reset();
  });

  async function clearCounts(): Promise<void> {
    await ctx.validation.flush();
    await ctx.dataSource.query(
      `DELETE FROM usage_deltas; DELETE FROM usage_rollups; DELETE FROM validation_events`,
    );
  }

  /** Runs one generated operation at `at`; returns what the reports should count of it. */
  async function run(
    kind: Kind,
    index: number,
    at: Date,
    machines: Array<{ id: string; license: number }>,
  ): Promise<Counted[]> {
    ctx.clock.pin(at);
    const license = licenses[index];
    const counted = (report: Counted['report'], dim: string, of = license): Counted => ({
      at,
      report,
      dim,
      productId: of.policy.productId,
      policyId: of.policy.id,
      customerId: of.customer.id,
    });
    switch (kind) {
      case 'validate': {
        const result = await ctx.validation.validate({ key: license.key });
        return [counted('validations', result.code)];
      }
      case 'unknown': {
        await ctx.validation.validate({ key: UNKNOWN_KEY });
        return [
          {
            at,
            report: 'validations',
            dim: 'NOT_FOUND',
            productId: null,
            policyId: null,
            customerId: null,
          },
        ];
      }
      case 'activate': {
        // A suspended license refuses activations: a refusal counts nothing.
        const machine = await ctx.machines
          .activate(ctx.actor, {
            licenseId: license.id,
            fingerprint: `fp-${machines.length}-${Math.random()}`,
          })
          .catch(() => null);
        if (machine === null) {
          return [];
        }
        machines.push({ id: machine.id, license: index });
        return [counted('activations', 'activated')];
      }
      case 'deactivate': {
        const machine = machines.splice(index % Math.max(machines.length, 1), 1)[0];
        if (machine === undefined) {
          return [];
        }
        await ctx.machines.deactivate(ctx.actor, machine.id);
        return [counted('activations', 'deactivated', licenses[machine.license])];
      }
      case 'suspend':
      case 'reinstate': {
        const changed = await (kind === 'suspend' ? ctx.licenses.suspend : ctx.licenses.reinstate)
          .call(ctx.licenses, ctx.actor, license.id)
          .then(() => true)
          .catch(() => false); // already suspended / not suspended: a refusal counts nothing
        return changed
          ? [counted('licenses', kind === 'suspend' ? 'suspended' : 'reinstated')]
          : [];
      }
      case 'issue': {
        await ctx.licenses.issue(ctx.actor, {
          policyId: license.policy.id,
          customerId: license.customer.id,
        });
        return [counted('licenses', 'created')];
      }
    }
  }

  function expectMatches(
    report: TimeSeriesDto,
    events: Counted[],
    interval: Interval,
    tz: string,
    range: { from: Date; to: Date },
  ): void {
    // Gapless and in order, from the bucket holding `from` to the one holding the instant before `to`.
    expect(localBucketKey(new Date(report.buckets[0].start), interval, tz)).toBe(
      localBucketKey(range.from, interval, tz),
    );
    expect(localBucketKey(new Date(report.buckets.at(-1)!.start), interval, tz)).toBe(
      localBucketKey(new Date(range.to.getTime() - 1), interval, tz),
    );
    for (let i = 1; i < report.buckets.length; i++) {
      expect(report.buckets[i].start).toBe(report.buckets[i - 1].end);
    }
    const keys = report.buckets.map((b) => localBucketKey(new Date(b.start), interval, tz));
    expect(new Set(keys).size).toBe(keys.length);
    // Every instant of a bucket has the bucket's local key: its first and last millisecond agree.
    for (const bucket of report.buckets) {
      expect(localBucketKey(new Date(new Date(bucket.end).getTime() - 1), interval, tz)).toBe(
        localBucketKey(new Date(bucket.start), interval, tz),
      );
    }

    const expected = expectedBuckets(events, interval, tz);
    const actual = new Map<string, Record<string, number>>();
    for (const bucket of report.buckets) {
      const nonZero = Object.fromEntries(Object.entries(bucket.counts).filter(([, n]) => n > 0));
      if (Object.keys(nonZero).length > 0) {
        actual.set(localBucketKey(new Date(bucket.start), interval, tz), nonZero);
      }
      expect(bucket.total).toBe(Object.values(bucket.counts).reduce((a, b) => a + b, 0));
    }
    expect(Object.fromEntries(actual)).toEqual(Object.fromEntries(expected));
  }

  it('counts a generated history exactly: every report, scope, interval and time zone, folded or not', async () => {
    const op = fc.record({
      minute: fc.integer({ min: 0, max: WINDOW_DAYS * 1440 - 1 }),
      kind: fc.constantFrom<Kind>(
        'validate',
        'validate',
        'validate',
        'unknown',
        'activate',
        'activate',
        'deactivate',
        'suspend',
        'reinstate',
        'issue',
      ),
      license: fc.integer({ min: 0, max: 3 }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(op, { minLength: 1, maxLength: 30 }),
        fc.constantFrom(...WINDOWS),
        fc.constantFrom(...ZONES),
        fc.constantFrom(...INTERVALS),
        fc.constantFrom('all', 'product', 'policy', 'customer'),
        async (history, base, tz, interval, scopeType) => {
          await clearCounts();
          const machines: Array<{ id: string; license: number }> = [];
          const events: Counted[] = [];
          for (const step of [...history].sort((a, b) => a.minute - b.minute)) {
            const at = new Date(base.getTime() + step.minute * MINUTE + 17_000);
            events.push(...(await run(step.kind, step.license, at, machines)));
          }
          await ctx.validation.flush();
          // Leave no license suspended nor machine behind for the next history.
          ctx.clock.reset();
          for (const license of licenses) {
            await ctx.licenses.reinstate(ctx.actor, license.id).catch(() => undefined);
          }
          for (const machine of machines) {
            await ctx.machines.deactivate(ctx.actor, machine.id);
          }

          const target = licenses[0];
          const scope =
            scopeType === 'all'
              ? {}
              : scopeType === 'product'
                ? { productId: target.policy.productId }
                : scopeType === 'policy'
                  ? { policyId: target.policy.id }
                  : { customerId: target.customer.id };
          const inScope = (event: Counted) =>
            scopeType === 'all' ||
            (scopeType === 'product' && event.productId === target.policy.productId) ||
            (scopeType === 'policy' && event.policyId === target.policy.id) ||
            (scopeType === 'customer' && event.customerId === target.customer.id);
          const range = { from: base, to: new Date(base.getTime() + WINDOW_DAYS * DAY) };
          const query = {
            ...scope,
            interval,
            tz,
            from: range.from.toISOString(),
            to: range.to.toISOString(),
          };
          const names = ['validations', 'activations', 'licenses'] as const;
          const unfolded = [];
          for (const name of names) {
            const report = await reports.timeSeries(name, query);
            expectMatches(
              report,
              events.filter((e) => e.report === name && inScope(e)),
              interval,
              tz,
              range,
            );
            unfolded.push(report);
          }

          // Folded into rollups, every report reads the same, and nothing waits to be folded.
          await folder.fold();
          const [{ waiting }] = await ctx.dataSource.query<Array<{ waiting: number }>>(
            `SELECT count(*)::int AS waiting FROM usage_deltas`,
          );
          expect(waiting).toBe(0);
          for (const [i, name] of names.entries()) {
            expect(await reports.timeSeries(name, query)).toEqual(unfolded[i]);
          }

          // The raw validations (the validations export) agree with the rollups.
          const raw = await ctx.dataSource.query<Array<{ code: string; n: number }>>(
            `SELECT code, count(*)::int AS n FROM validation_events GROUP BY code`,
          );
          const all = await reports.timeSeries('validations', {
            interval: 'month',
            from: range.from.toISOString(),
            to: range.to.toISOString(),
          });
          expect(Object.fromEntries(raw.map((r) => [r.code, r.n]))).toEqual(
            Object.fromEntries(Object.entries(all.totals).filter(([, n]) => n > 0)),
          );
        },
      ),
      { numRuns: 25 },
    );
  }, 240_000);

  describe('time zones and interval boundaries', () => {
    it('gives the EU spring-forward day 23 hours, the US fall-back day 25, Kolkata days from 18:30 UTC', async () => {
      const days = async (tz: string, from: string, to: string) =>
        (await reports.timeSeries('validations', { interval: 'day', tz, from, to })).buckets.map(
          (b) => [b.start, b.end],
        );
      expect(await days('Europe/Berlin', '2026-03-28T12:00:00Z', '2026-03-30T12:00:00Z')).toEqual([
        ['2026-03-27T23:00:00.000Z', '2026-03-28T23:00:00.000Z'],
        ['2026-03-28T23:00:00.000Z', '2026-03-29T22:00:00.000Z'],
        ['2026-03-29T22:00:00.000Z', '2026-03-30T22:00:00.000Z'],
      ]);
      expect(
        await days('America/New_York', '2026-11-01T12:00:00Z', '2026-11-02T00:00:00Z'),
      ).toEqual([['2026-11-01T04:00:00.000Z', '2026-11-02T05:00:00.000Z']]);
      expect(await days('Asia/Kolkata', '2026-06-01T00:00:00Z', '2026-06-01T20:00:00Z')).toEqual([
        ['2026-05-31T18:30:00.000Z', '2026-06-01T18:30:00.000Z'],
        ['2026-06-01T18:30:00.000Z', '2026-06-02T18:30:00.000Z'],
      ]);
      const hours = await reports.timeSeries('validations', {
        interval: 'hour',
        tz: 'Europe/Berlin',
        from: '2026-03-28T23:00:00Z',
        to: '2026-03-29T22:00:00Z',
      });
      expect(hours.buckets).toHaveLength(23);
    });

    it('puts a count at a boundary in the bucket it starts, in the zone asked for', async () => {
      await clearCounts();
      const { license } = await ctx.newLicense();
      // 00:00 in Berlin on the day after the EU change, and one millisecond before it.
      for (const at of ['2026-03-29T22:00:00.000Z', '2026-03-29T21:59:59.999Z']) {
        ctx.clock.pin(new Date(at));
        await ctx.validation.validate({ key: license.key });
      }
      await ctx.validation.flush();
      const report = await reports.timeSeries('validations', {
        interval: 'day',
        tz: 'Europe/Berlin',
        from: '2026-03-29T00:00:00Z',
        to: '2026-03-30T12:00:00Z',
      });
      expect(report.buckets.map((b) => [b.start, b.counts.VALID])).toEqual([
        ['2026-03-28T23:00:00.000Z', 1],
        ['2026-03-29T22:00:00.000Z', 1],
      ]);
      const utc = await reports.timeSeries('validations', {
        interval: 'day',
        from: '2026-03-29T00:00:00Z',
        to: '2026-03-30T12:00:00Z',
      });
      expect(utc.buckets.map((b) => b.counts.VALID)).toEqual([2, 0]);
    });

    it('keeps the two runs of the fall-back hour apart', async () => {
      await clearCounts();
      const { license } = await ctx.newLicense();
      // 02:30 in Berlin, summer time then winter time, an hour apart.
      for (const at of ['2026-10-25T00:30:00Z', '2026-10-25T01:30:00Z', '2026-10-25T01:40:00Z']) {
        ctx.clock.pin(new Date(at));
        await ctx.validation.validate({ key: license.key });
      }
      await ctx.validation.flush();
      const hours = await reports.timeSeries('validations', {
        interval: 'hour',
        tz: 'Europe/Berlin',
        from: '2026-10-24T22:00:00Z',
        to: '2026-10-25T23:00:00Z',
      });
      // The local day of the change has 25 hours.
      expect(hours.buckets).toHaveLength(25);
      expect(
        hours.buckets.filter((b) => b.total > 0).map((b) => [b.start, b.end, b.counts.VALID]),
      ).toEqual([
        ['2026-10-25T00:00:00.000Z', '2026-10-25T01:00:00.000Z', 1],
        ['2026-10-25T01:00:00.000Z', '2026-10-25T02:00:00.000Z', 2],
      ]);
    });

    it('follows Lord Howe hours across its 30-minute shift', async () => {
      // 02:00 local (+11) becomes 01:30 (+10:30) on 5 April 2026, at 15:00 UTC.
      const hours = await reports.timeSeries('validations', {
        interval: 'hour',
        tz: 'Australia/Lord_Howe',
        from: '2026-04-04T13:00:00Z',
        to: '2026-04-04T17:00:00Z',
      });
      expect(hours.buckets.map((b) => [b.start, b.end])).toEqual([
        ['2026-04-04T13:00:00.000Z', '2026-04-04T14:00:00.000Z'],
        ['2026-04-04T14:00:00.000Z', '2026-04-04T15:00:00.000Z'],
        // 01:30-02:00 (+10:30): the second run of the 01:00 hour, half an hour long.
        ['2026-04-04T15:00:00.000Z', '2026-04-04T15:30:00.000Z'],
        ['2026-04-04T15:30:00.000Z', '2026-04-04T16:30:00.000Z'],
        ['2026-04-04T16:30:00.000Z', '2026-04-04T17:30:00.000Z'],
      ]);
    });

    it('refuses unknown zones, offsets, unreadable dates, reversed ranges, too many buckets and bad scopes with 400s', async () => {
      for (const tz of ['Mars/Olympus', '+05:30', '-0800']) {
        await expect(reports.timeSeries('validations', { tz })).rejects.toMatchObject({
          code: 'INVALID_TIME_ZONE',
          status: 400,
        });
      }
      await expect(reports.timeSeries('validations', { from: '2026-W05-3' })).rejects.toMatchObject(
        {
          code: 'INVALID_REPORT_QUERY',
        },
      );
      await expect(
        reports.seats({ productId: '00000000-0000-0000-0000-000000000000' }),
      ).rejects.toMatchObject({ code: 'INVALID_REPORT_QUERY' });
      // A scope that does not exist is a 404, not a report of zeros; nor is a policy id named a product.
      for (const [query, code] of [
        [{ productId: randomUUID() }, 'PRODUCT_NOT_FOUND'],
        [{ productId: policies[0].id }, 'PRODUCT_NOT_FOUND'],
        [{ policyId: randomUUID() }, 'POLICY_NOT_FOUND'],
        [{ customerId: randomUUID() }, 'CUSTOMER_NOT_FOUND'],
      ] as const) {
        await expect(reports.timeSeries('activations', query)).rejects.toMatchObject({
          code,
          status: 404,
        });
        await expect(reports.machines(query)).rejects.toMatchObject({ code });
      }
      await expect(
        reports.timeSeries('validations', {
          from: '2026-02-02T00:00:00Z',
          to: '2026-02-01T00:00:00Z',
        }),
      ).rejects.toMatchObject({ code: 'INVALID_REPORT_QUERY' });
      await expect(
        reports.timeSeries('validations', {
          interval: 'hour',
          from: '2020-01-01T00:00:00Z',
          to: '2026-01-01T00:00:00Z',
        }),
      ).rejects.toMatchObject({ code: 'TOO_MANY_BUCKETS' });
      await expect(
        reports.timeSeries('activations', {
          productId: policies[0].productId,
          customerId: customers[0].id,
        }),
      ).rejects.toMatchObject({ code: 'INVALID_REPORT_QUERY' });
      await expect(
        reports.timeSeries('webhook-deliveries', { customerId: customers[0].id }),
      ).rejects.toMatchObject({ code: 'INVALID_REPORT_QUERY' });
    });
  });

  describe('licenses report', () => {
    it('counts expiries from the licenses, and keeps a lapse counted after a renewal', async () => {
      await clearCounts();
      const policy = await ctx.newPolicy({ durationSeconds: 86_400 });
      ctx.clock.pin(new Date('2026-07-01T10:00:00Z'));
      const { license } = await ctx.newLicense({ policy });
      const expired = await ctx.newLicense({ policy });
      ctx.clock.pin(new Date('2026-07-03T09:00:00Z'));
      await ctx.licenses.renew(ctx.actor, license.id);
      const report = await reports.timeSeries('licenses', {
        policyId: policy.id,
        from: '2026-07-01T00:00:00Z',
        to: '2026-07-04T00:00:00Z',
      });
      expect(report.buckets.map((b) => [b.start.slice(0, 10), b.counts])).toEqual([
        ['2026-07-01', expect.objectContaining({ created: 2, expired: 0 })],
        ['2026-07-02', expect.objectContaining({ expired: 2, renewed: 0 })],
        ['2026-07-03', expect.objectContaining({ expired: 0, renewed: 1 })],
      ]);
      // The renewed license now expires on the 4th (after the clock's now): not yet counted.
      expect(expired.license.expiresAt).toBe('2026-07-02T10:00:00.000Z');
    });
  });

  describe('snapshots', () => {
    it('adds up seats per policy and product, lists near-limit and expiring licenses', async () => {
      ctx.clock.reset();
      const product = await ctx.newProduct();
      const small = await ctx.newPolicy({ productId: product.id, floating: true, maxMachines: 4 });
      const open = await ctx.newPolicy({ productId: product.id, floating: true });
      const full = await ctx.newLicense({ policy: small });
      const half = await ctx.newLicense({ policy: small });
      const unlimited = await ctx.newLicense({ policy: open });
      await ctx.newMachines(full.license.id, 4);
      await ctx.newMachines(half.license.id, 2);
      await ctx.newMachines(unlimited.license.id, 7);

      const seats = await reports.seats({ productId: product.id });
      expect(seats.products).toEqual([
        expect.objectContaining({
          productId: product.id,
          licenses: 3,
          seatsUsed: 13,
          seatsAllowed: 8,
          unlimitedLicenses: 1,
        }),
      ]);
      expect(seats.products[0].policies).toHaveLength(2);
      expect(seats.products[0].policies.find((p) => p.policyId === small.id)).toMatchObject({
        licenses: 2,
        seatsUsed: 6,
        seatsAllowed: 8,
        unlimitedLicenses: 0,
      });

      const near = await reports.nearLimits({ productId: product.id, threshold: 50 });
      expect(near.licenses.map((l) => [l.licenseId, l.usedRatio])).toEqual([
        [full.license.id, 1],
        [half.license.id, 0.5],
      ]);
      expect((await reports.nearLimits({ productId: product.id })).licenses).toHaveLength(1);

      // Limits near 2^31: their percentages are computed without overflow.
      const huge = await ctx.newLicense({
        policy: { productId: product.id, floating: true, maxUses: 2_000_000_000 },
      });
      await ctx.dataSource.query(`UPDATE licenses SET uses = 1900000000 WHERE id = $1`, [
        huge.license.id,
      ]);
      expect(
        (await reports.nearLimits({ productId: product.id, threshold: 90 })).licenses.map((l) => [
          l.licenseId,
          l.usedRatio,
        ]),
      ).toEqual([
        [full.license.id, 1],
        [huge.license.id, 0.95],
      ]);

      const soon = await ctx.newPolicy({ productId: product.id, durationSeconds: 5 * 86_400 });
      const later = await ctx.newPolicy({ productId: product.id, durationSeconds: 60 * 86_400 });
      const expiringSoon = await ctx.newLicense({ policy: soon });
      await ctx.newLicense({ policy: later });
      const expiring = await reports.expiring({ productId: product.id, days: 30 });
      expect(expiring.total).toBe(1);
      expect(expiring.licenses.map((l) => l.licenseId)).toEqual([expiringSoon.license.id]);
      expect((await reports.expiring({ productId: product.id, days: 90 })).total).toBe(2);
    });

    it('groups machines by platform, version and the country they activated from', async () => {
      const { license, policy } = await ctx.newLicense({
        policy: { floating: true, maxMachines: 10 },
      });
      const from = (ip: string) => ({ ...ctx.actor, ip });
      await ctx.machines.activate(from('81.2.69.160'), {
        licenseId: license.id,
        fingerprint: 'gb-1',
        platform: 'linux',
        version: '2.1.0',
      });
      await ctx.machines.activate(from('::ffff:81.2.69.7'), {
        licenseId: license.id,
        fingerprint: 'gb-2',
        platform: 'macos',
        version: '2.1.0',
      });
      const de = await ctx.machines.activate(from('2.125.160.216'), {
        licenseId: license.id,
        fingerprint: 'de-1',
        platform: 'linux',
      });
      await ctx.machines.activate(from('10.0.0.1'), { licenseId: license.id, fingerprint: 'lan' });
      expect(de.country).toBe('DE');

      const by = async (dimension: 'platform' | 'version' | 'country') =>
        (await reports.machines({ policyId: policy.id, by: dimension })).groups;
      expect(await by('country')).toEqual([
        { value: 'GB', machines: 2 },
        { value: 'DE', machines: 1 },
        { value: null, machines: 1 },
      ]);
      expect(await by('platform')).toEqual([
        { value: 'linux', machines: 2 },
        { value: 'macos', machines: 1 },
        { value: null, machines: 1 },
      ]);
      expect(await by('version')).toEqual([
        { value: '2.1.0', machines: 2 },
        { value: null, machines: 2 },
      ]);
      expect(
        reports.catalog().reports.find((r) => r.path.endsWith('/machines'))?.dimensions,
      ).toEqual(['platform', 'version', 'country']);
    });
  });

  it('folds exactly once when two instances fold at the same time', async () => {
    await clearCounts();
    const policy = licenses[0].policy;
    await ctx.dataSource.query(
      `INSERT INTO usage_deltas (at, metric, dim, policy_id, customer_id, count)
       SELECT TIMESTAMPTZ '2026-05-01 00:00:00+00' + (i % 500) * interval '1 minute', 'machine',
              CASE WHEN i % 3 = 0 THEN 'deactivated' ELSE 'activated' END, $1, $2, 1 + i % 4
       FROM generate_series(1, 45000) AS i`,
      [policy.id, licenses[0].customer.id],
    );
    const [{ expected }] = await ctx.dataSource.query<Array<{ expected: string }>>(
      `SELECT sum(count) AS expected FROM usage_deltas`,
    );
    // A second folder on its own connections, as another instance would run it.
    const other = new UsageFolder(ctx.dataSource, ctx.clock, ctx.config);
    await Promise.all([folder.fold(), other.fold(), folder.fold(), other.fold()]);
    // Whichever lost the lock left its slice for the next tick.
    while ((await folder.fold()) > 0) {
      /* folding what remains */
    }
    const sums = await ctx.dataSource.query<Array<{ scope_id: string; total: string }>>(
      `SELECT scope_id, sum(count) AS total FROM usage_rollups GROUP BY scope_id ORDER BY scope_id`,
    );
    expect(new Map(sums.map((r) => [r.scope_id, r.total]))).toEqual(
      new Map(
        [ALL_SCOPE, policy.productId, policy.id, licenses[0].customer.id].map((id) => [
          id,
          expected,
        ]),
      ),
    );
    const [{ waiting }] = await ctx.dataSource.query<Array<{ waiting: number }>>(
      `SELECT count(*)::int AS waiting FROM usage_deltas`,
    );
    expect(waiting).toBe(0);
  });

  it('prunes raw validations and rollups past their retention', async () => {
    const { license } = await ctx.newLicense();
    await clearCounts();
    const now = Date.now();
    for (const ageDays of [800, 40, 1]) {
      ctx.clock.pin(new Date(now - ageDays * DAY));
      await ctx.validation.validate({ key: license.key });
    }
    await ctx.validation.flush();
    await folder.fold();
    ctx.clock.reset();
    await expect(folder.prune()).resolves.toEqual({ validations: 2, rollups: 4 });
    const [{ raw }] = await ctx.dataSource.query<Array<{ raw: number }>>(
      `SELECT count(*)::int AS raw FROM validation_events`,
    );
    expect(raw).toBe(1);
    const [{ rollups }] = await ctx.dataSource.query<Array<{ rollups: number }>>(
      `SELECT count(*)::int AS rollups FROM usage_rollups`,
    );
    // Two buckets (40 days and 1 day old), each in four scopes: all, product, policy, customer.
    expect(rollups).toBe(8);
  });
});
