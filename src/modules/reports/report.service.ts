import { Inject, Injectable } from '@nestjs/common';

import { ValidationService } from 'src/modules/licenses/validation.service';
import type {
  ExpiringQueryDto,
  ExpiringReportDto,
  MachinesQueryDto,
  MachinesReportDto,
  NearLimitsQueryDto,
  NearLimitsReportDto,
  ReportCatalogDto,
  ReportScopeDto,
  ReportScopeQueryDto,
  SeatsProductDto,
  SeatsReportDto,
  TimeSeriesDto,
  TimeSeriesQueryDto,
} from 'src/modules/reports/report.dto';
import {
  InvalidReportQuery,
  ReportPolicyNotFound,
  InvalidTimeZone,
  ReportDimensionUnavailable,
  TooManyBuckets,
} from 'src/modules/reports/report.errors';
import { ReportRepository } from 'src/modules/reports/report.repository';
import { instant } from 'src/modules/reports/report-time';
import { ALL_SCOPE } from 'src/modules/reports/usage-counts';
import type { Interval, ReportScope } from 'src/modules/reports/report.repository';
import { APP_CONFIG } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';
import { Clock } from 'src/platform/clock';
import { CustomerNotFound, ProductNotFound } from 'src/platform/errors/not-found';
import { GeoIp } from 'src/platform/geoip/geoip';
import type { UsageMetric } from 'src/platform/usage/usage-deltas';

/** Buckets one time series may hold: 90 days by the hour, about eight years by the month. */
export const MAX_BUCKETS = 3_000;
const DAY_MS = 86_400_000;
const DEFAULT_RANGE_MS = 30 * DAY_MS;
const APPROX_INTERVAL_MS: Record<Interval, number> = {
  hour: 3_600_000,
  day: DAY_MS,
  week: 7 * DAY_MS,
  month: 28 * DAY_MS,
};

interface TimeSeriesReport {
  readonly metric: UsageMetric;
  readonly series: readonly string[];
  /** Webhook deliveries belong to no license: they are only counted as a whole. */
  readonly scoped: boolean;
}

export const TIME_SERIES: Readonly<Record<string, TimeSeriesReport>> = {
  validations: { metric: 'validation', series: ValidationService.CODES, scoped: true },
  activations: { metric: 'machine', series: ['activated', 'deactivated', 'culled'], scoped: true },
  licenses: {
    metric: 'license',
    series: ['created', 'expired', 'suspended', 'reinstated', 'renewed', 'revoked'],
    scoped: true,
  },
  'webhook-deliveries': {
    metric: 'webhook',
    series: ['delivered', 'retried', 'failed'],
    scoped: false,
  },
};

const SCOPE_NOT_FOUND = {
  product: ProductNotFound,
  policy: ReportPolicyNotFound,
  customer: CustomerNotFound,
};

/** Analytics over the rollups and snapshots of the licensing tables (docs/reports.md). */
@Injectable()
export class ReportService {
  constructor(
    private readonly reports: ReportRepository,
    private readonly clock: Clock,
    private readonly geoip: GeoIp,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  catalog(): ReportCatalogDto {
    return {
      reports: [
        ...Object.entries(TIME_SERIES).map(([name, report]) => ({
          path: `/v1/reports/${name}`,
          kind: 'time-series',
          dimensions: [...report.series],
        })),
        { path: '/v1/reports/seats', kind: 'snapshot', dimensions: [] },
        { path: '/v1/reports/near-limits', kind: 'snapshot', dimensions: [] },
        { path: '/v1/reports/expiring', kind: 'snapshot', dimensions: [] },
        { path: '/v1/reports/machines', kind: 'snapshot', dimensions: this.machineDimensions() },
      ],
      rawRetentionDays: this.config.reports.rawRetentionDays,
      rollupRetentionDays: this.config.reports.rollupRetentionDays,
    };
  }

  async timeSeries(
    name: keyof typeof TIME_SERIES,
    query: TimeSeriesQueryDto,
  ): Promise<TimeSeriesDto> {
    const report = TIME_SERIES[name];
    const scope = await this.existingScope(query);
    if (!report.scoped && scope.type !== 'all') {
      throw new InvalidReportQuery(
        `The ${name} report is not kept per product, policy or customer.`,
      );
    }
    const interval = query.interval ?? 'day';
    const tz = timeZone(query.tz ?? 'UTC');
    const now = this.clock.now();
    const to = query.to === undefined ? now : instant(query.to, 'to');
    const from =
      query.from === undefined
        ? new Date(to.getTime() - DEFAULT_RANGE_MS)
        : instant(query.from, 'from');
    if (from >= to) {
      throw new InvalidReportQuery('from must be earlier than to.');
    }
    const buckets = Math.ceil((to.getTime() - from.getTime()) / APPROX_INTERVAL_MS[interval]);
    if (buckets > MAX_BUCKETS) {
      throw new TooManyBuckets(buckets, MAX_BUCKETS);
    }
    const rows = await this.reports
      .series({
        metric: report.metric,
        interval,
        from,
        to,
        tz,
        scope,
        withExpiries: name === 'licenses',
        now,
      })
      .catch((error: unknown) => {
        // Intl and PostgreSQL read different copies of the tz database: one may lack a zone.
        if ((error as { code?: string }).code === '22023') {
          throw new InvalidTimeZone(tz);
        }
        throw error;
      });

    const totals = Object.fromEntries(report.series.map((series) => [series, 0]));
    const byStart = new Map<number, TimeSeriesDto['buckets'][number]>();
    for (const row of rows) {
      let bucket = byStart.get(row.start.getTime());
      if (bucket === undefined) {
        bucket = {
          start: row.start.toISOString(),
          end: row.stop.toISOString(),
          counts: Object.fromEntries(report.series.map((series) => [series, 0])),
          total: 0,
        };
        byStart.set(row.start.getTime(), bucket);
      }
      if (row.dim !== null) {
        const n = Number(row.n);
        bucket.counts[row.dim] = (bucket.counts[row.dim] ?? 0) + n;
        totals[row.dim] = (totals[row.dim] ?? 0) + n;
        bucket.total += n;
      }
    }
    const list = [...byStart.values()];
    return {
      report: name,
      interval,
      tz,
      from: list[0]?.start ?? from.toISOString(),
      to: list.at(-1)?.end ?? to.toISOString(),
      scope: scopeDto(scope),
      series: [...report.series],
      buckets: list,
      totals,
    };
  }

  async seats(query: ReportScopeQueryDto): Promise<SeatsReportDto> {
    const scope = await this.existingScope(query);
    const now = this.clock.now();
    const products = new Map<string, SeatsProductDto>();
    for (const row of await this.reports.seats(scope, now)) {
      if (scope.type === 'customer' && Number(row.licenses) === 0) {
        continue;
      }
      let product = products.get(row.product_id);
      if (product === undefined) {
        product = {
          productId: row.product_id,
          productCode: row.product_code,
          licenses: 0,
          seatsUsed: 0,
          seatsAllowed: 0,
          unlimitedLicenses: 0,
          policies: [],
        };
        products.set(row.product_id, product);
      }
      const policy = {
        policyId: row.policy_id,
        policyName: row.policy_name,
        licenses: Number(row.licenses),
        seatsUsed: Number(row.seats_used),
        seatsAllowed: Number(row.seats_allowed ?? 0),
        unlimitedLicenses: Number(row.unlimited),
      };
      product.policies.push(policy);
      product.licenses += policy.licenses;
      product.seatsUsed += policy.seatsUsed;
      product.seatsAllowed += policy.seatsAllowed;
      product.unlimitedLicenses += policy.unlimitedLicenses;
    }
    return { scope: scopeDto(scope), at: now.toISOString(), products: [...products.values()] };
  }

  async nearLimits(query: NearLimitsQueryDto): Promise<NearLimitsReportDto> {
    const scope = await this.existingScope(query);
    const threshold = query.threshold ?? 80;
    const rows = await this.reports.nearLimits(
      scope,
      threshold,
      query.limit ?? 100,
      this.clock.now(),
    );
    return {
      scope: scopeDto(scope),
      threshold,
      licenses: rows.map((row) => ({
        licenseId: row.id,
        name: row.name,
        policyId: row.policy_id,
        productId: row.product_id,
        customerId: row.customer_id,
        machines: row.machines,
        maxMachines: row.max_machines,
        uses: row.uses,
        maxUses: row.max_uses,
        usedRatio: Math.max(ratio(row.machines, row.max_machines), ratio(row.uses, row.max_uses)),
      })),
    };
  }

  async expiring(query: ExpiringQueryDto): Promise<ExpiringReportDto> {
    const scope = await this.existingScope(query);
    const now = this.clock.now();
    const until = new Date(now.getTime() + (query.days ?? 30) * DAY_MS);
    const { total, rows } = await this.reports.expiring(scope, now, until, query.limit ?? 100);
    return {
      scope: scopeDto(scope),
      from: now.toISOString(),
      to: until.toISOString(),
      total,
      licenses: rows.map((row) => ({
        licenseId: row.id,
        name: row.name,
        status: row.status,
        policyId: row.policy_id,
        productId: row.product_id,
        customerId: row.customer_id,
        expiresAt: row.expires_at.toISOString(),
      })),
    };
  }

  async machines(query: MachinesQueryDto): Promise<MachinesReportDto> {
    const scope = await this.existingScope(query);
    const by = query.by ?? 'platform';
    if (by === 'country' && !this.geoip.enabled) {
      throw new ReportDimensionUnavailable(
        'country',
        'no GeoIP database is configured (GEOIP_DB_FILE).',
      );
    }
    const groups = await this.reports.machinesBy(scope, by);
    return {
      scope: scopeDto(scope),
      by,
      total: groups.reduce((sum, group) => sum + group.machines, 0),
      groups,
    };
  }

  /** The one scope asked for, which must exist: a report of an unknown product is a 404, not zeros. */
  private async existingScope(query: ReportScopeQueryDto): Promise<ReportScope> {
    const scope = scopeOf(query);
    if (scope.type !== 'all' && !(await this.reports.scopeExists(scope))) {
      throw new SCOPE_NOT_FOUND[scope.type]();
    }
    return scope;
  }

  private machineDimensions(): string[] {
    return this.geoip.enabled ? ['platform', 'version', 'country'] : ['platform', 'version'];
  }
}

function scopeOf(query: ReportScopeQueryDto): ReportScope {
  const given = (['product', 'policy', 'customer'] as const)
    .map((type) => ({ type, id: query[`${type}Id`] }))
    .filter(
      (scope): scope is { type: 'product' | 'policy' | 'customer'; id: string } =>
        scope.id !== undefined,
    );
  if (given.length > 1) {
    throw new InvalidReportQuery('Give at most one of productId, policyId and customerId.');
  }
  if (given[0]?.id === ALL_SCOPE) {
    // The nil uuid is the rollups' scope of everything, never a product's, policy's or customer's id.
    throw new InvalidReportQuery(`${given[0].type}Id must not be the nil uuid.`);
  }
  return given[0] ?? { type: 'all' };
}

function scopeDto(scope: ReportScope): ReportScopeDto {
  return { type: scope.type, id: scope.type === 'all' ? null : scope.id };
}

/**
 * The zone's canonical spelling, or a 400 for anything Intl does not know. Only names: Intl reads an
 * offset like `+05:30` as east of UTC and PostgreSQL (POSIX) as west, so offsets are refused.
 */
function timeZone(tz: string): string {
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(tz)) {
    throw new InvalidTimeZone(tz);
  }
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone;
  } catch {
    throw new InvalidTimeZone(tz);
  }
}

function ratio(used: number, limit: number | null): number {
  return limit === null || limit <= 0 ? 0 : used / limit;
}
