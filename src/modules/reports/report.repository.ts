import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

import { ALL_SCOPE, BUCKET_SQL, SCOPED_DELTAS } from 'src/modules/reports/usage-counts';
import type { UsageMetric } from 'src/platform/usage/usage-deltas';

export type Interval = 'hour' | 'day' | 'week' | 'month';

/** What a report counts over: everything, or one product, policy or customer. */
export type ReportScope =
  | { readonly type: 'all' }
  | { readonly type: 'product' | 'policy' | 'customer'; readonly id: string };

export interface SeriesQuery {
  readonly metric: UsageMetric;
  readonly interval: Interval;
  readonly from: Date;
  readonly to: Date;
  readonly tz: string;
  readonly scope: ReportScope;
  /** The licenses report: expiries are read from the licenses themselves (they are not events). */
  readonly withExpiries?: boolean;
  readonly now: Date;
}

export interface SeriesRow {
  start: Date;
  stop: Date;
  dim: string | null;
  n: string | null;
}

/** Sums are bigint (pg reads them as strings): 2 000 licenses of a million seats overflow an integer. */
export interface SeatsRow {
  product_id: string;
  product_code: string;
  policy_id: string;
  policy_name: string;
  licenses: string;
  seats_used: string;
  seats_allowed: string | null;
  unlimited: string;
}

export interface LimitRow {
  id: string;
  name: string | null;
  policy_id: string;
  product_id: string;
  customer_id: string;
  machines: number;
  max_machines: number | null;
  uses: number;
  max_uses: number | null;
}

export interface ExpiringRow {
  id: string;
  name: string | null;
  status: string;
  policy_id: string;
  product_id: string;
  customer_id: string;
  expires_at: Date;
}

export type MachineDimension = 'platform' | 'version' | 'country';

// A license counts toward seats while it can still be used: not revoked and not past its expiry.
const LIVE = `(l.status <> 'REVOKED' AND (l.expires_at IS NULL OR l.expires_at > $1))`;

// The buckets of a range, each with the key summed counts find it by (their date_trunc in $4). Days, weeks
// and months step in local calendar units, so a DST day is 23 or 25 hours long.
const CALENDAR_EDGES = `
  SELECT e AS key, e AS start, date_add(e, ('1 ' || $1)::interval, $4) AS stop
  FROM generate_series(date_trunc($1, $2::timestamptz, $4), $3::timestamptz, ('1 ' || $1)::interval, $4) AS e
  WHERE e < $3::timestamptz`;
// Hours are read off the 15-minute steps, each keyed by its local hour once (so the time zone's arithmetic
// runs per step, not per rollup row): an hour added is always 60 minutes, which would leave the local
// hours behind after a 30-minute DST shift (Australia/Lord_Howe), and the hour after such a shift starts
// at its first instant, not at the earlier one its local time would name. The fall-back hour runs twice.
const HOUR_STEPS = `
  SELECT g AS bucket, date_trunc($1, g, $4) AS key
  FROM generate_series(date_trunc($1, $2::timestamptz, $4), $3::timestamptz + interval '2 hours',
                       interval '15 minutes') AS g`;
const HOUR_EDGES = `
  SELECT key, start, stop
  FROM (SELECT key, min(bucket) AS start, lead(min(bucket)) OVER (ORDER BY min(bucket)) AS stop
        FROM steps GROUP BY key) AS hours
  WHERE start < $3::timestamptz`;

/** Reads for the reports: 15-minute rollups plus the deltas not folded yet, and snapshots of the tables. */
@Injectable()
export class ReportRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * One row per (bucket, series) with a count, and one row with null dim for each empty bucket: every
   * bucket of the range is in the answer, in order. One statement, so rollups and unfolded deltas are read
   * in one snapshot.
   */
  async series(query: SeriesQuery): Promise<SeriesRow[]> {
    const scopeId = query.scope.type === 'all' ? ALL_SCOPE : query.scope.id;
    const hourly = query.interval === 'hour';
    const expiries = query.withExpiries
      ? `UNION ALL
         -- Summed per 15-minute bucket first: the time zone's arithmetic then runs per bucket, not per license.
         SELECT ${BUCKET_SQL('l.expires_at')} AS bucket, 'expired' AS dim, count(*) AS count
         FROM licenses l JOIN policies p ON p.id = l.policy_id, bounds
         WHERE l.expires_at >= bounds.lo AND l.expires_at < least(bounds.hi, $7::timestamptz)
           AND ${licenseScope(query.scope, '$5')}
         GROUP BY 1`
      : '';
    return this.dataSource.query<SeriesRow[]>(
      `WITH ${hourly ? `steps AS (${HOUR_STEPS}), edges AS (${HOUR_EDGES})` : `edges AS (${CALENDAR_EDGES})`},
       bounds AS (
         SELECT min(start) AS lo, max(stop) AS hi FROM edges
       ), counted AS (
         SELECT r.bucket, r.dim, r.count
         FROM usage_rollups r, bounds
         WHERE r.scope_id = $5 AND r.metric = $6 AND r.bucket >= bounds.lo AND r.bucket < bounds.hi
         UNION ALL
         SELECT d.bucket, d.dim, d.count
         FROM (${SCOPED_DELTAS('usage_deltas')}) d, bounds
         WHERE d.scope_id = $5 AND d.metric = $6 AND d.bucket >= bounds.lo AND d.bucket < bounds.hi
         ${expiries}
       ), summed AS (
         ${
           hourly
             ? `SELECT st.key, c.dim, sum(c.count)::bigint AS n
                FROM counted c JOIN steps st ON st.bucket = c.bucket GROUP BY 1, 2`
             : `SELECT date_trunc($1, bucket, $4) AS key, dim, sum(count)::bigint AS n
                FROM counted GROUP BY 1, 2`
         }
       )
       SELECT e.start, e.stop, s.dim, s.n
       FROM edges e LEFT JOIN summed s ON s.key = e.key
       ORDER BY e.start, s.dim`,
      [
        query.interval,
        query.from,
        query.to,
        query.tz,
        scopeId,
        query.metric,
        ...(query.withExpiries ? [query.now] : []),
      ],
    );
  }

  async scopeExists(
    scope: ReportScope & { type: 'product' | 'policy' | 'customer' },
  ): Promise<boolean> {
    const table = { product: 'products', policy: 'policies', customer: 'customers' }[scope.type];
    const [{ found }] = await this.dataSource.query<Array<{ found: boolean }>>(
      `SELECT EXISTS (SELECT 1 FROM ${table} WHERE id = $1) AS found`,
      [scope.id],
    );
    return found;
  }

  /** Seats in use (machines) and allowed (machine limits) per policy, over the licenses still live. */
  async seats(scope: ReportScope, now: Date): Promise<SeatsRow[]> {
    return this.dataSource.query<SeatsRow[]>(
      `SELECT p.product_id, pr.code AS product_code, p.id AS policy_id, p.name AS policy_name,
              count(l.id) AS licenses,
              coalesce(sum(mc.n), 0) AS seats_used,
              sum(coalesce(l.max_machines_override, p.max_machines)) AS seats_allowed,
              count(l.id) FILTER (WHERE coalesce(l.max_machines_override, p.max_machines) IS NULL)
                AS unlimited
       FROM policies p
       JOIN products pr ON pr.id = p.product_id
       LEFT JOIN licenses l ON l.policy_id = p.id AND ${LIVE}
         AND ${scope.type === 'customer' ? 'l.customer_id = $2' : 'true'}
       LEFT JOIN (SELECT license_id, count(*) AS n FROM machines GROUP BY license_id) mc
         ON mc.license_id = l.id
       WHERE ${policyScope(scope, '$2')}
       GROUP BY p.product_id, pr.code, p.id, p.name
       ORDER BY pr.code, p.name, p.id`,
      [now, scopeParam(scope)],
    );
  }

  /** Live licenses using at least `percent` % of their machine or usage limit, fullest first. */
  async nearLimits(
    scope: ReportScope,
    percent: number,
    limit: number,
    now: Date,
  ): Promise<LimitRow[]> {
    return this.dataSource.query<LimitRow[]>(
      `SELECT * FROM (
         SELECT l.id, l.name, l.policy_id, p.product_id, l.customer_id,
                coalesce(mc.n, 0)::int AS machines,
                coalesce(l.max_machines_override, p.max_machines) AS max_machines,
                l.uses, coalesce(l.max_uses_override, p.max_uses) AS max_uses
         FROM licenses l
         JOIN policies p ON p.id = l.policy_id
         LEFT JOIN (SELECT license_id, count(*) AS n FROM machines GROUP BY license_id) mc
           ON mc.license_id = l.id
         WHERE ${LIVE} AND ${licenseScope(scope, '$2')}
       ) x
       -- In bigint: limits go up to 2^31 - 1, and 100 times one does not fit an integer.
       WHERE (max_machines > 0 AND machines::bigint * 100 >= $3::bigint * max_machines)
          OR (max_uses > 0 AND uses::bigint * 100 >= $3::bigint * max_uses)
       ORDER BY greatest(CASE WHEN max_machines > 0 THEN machines::float8 / max_machines ELSE 0 END,
                         CASE WHEN max_uses > 0 THEN uses::float8 / max_uses ELSE 0 END) DESC, id
       LIMIT $4`,
      [now, scopeParam(scope), percent, limit],
    );
  }

  /** Licenses not revoked whose expiry falls in [now, until), soonest first, and how many there are. */
  async expiring(
    scope: ReportScope,
    now: Date,
    until: Date,
    limit: number,
  ): Promise<{ total: number; rows: ExpiringRow[] }> {
    const rows = await this.dataSource.query<Array<ExpiringRow & { total: number }>>(
      `SELECT l.id, l.name, l.status, l.policy_id, p.product_id, l.customer_id, l.expires_at,
              count(*) OVER ()::int AS total
       FROM licenses l JOIN policies p ON p.id = l.policy_id
       WHERE l.expires_at >= $1 AND l.expires_at < $3 AND l.status <> 'REVOKED'
         AND ${licenseScope(scope, '$2')}
       ORDER BY l.expires_at, l.id
       LIMIT $4`,
      [now, scopeParam(scope), until, limit],
    );
    return { total: rows[0]?.total ?? 0, rows };
  }

  /** Machines counted by one of their attributes (null: not reported by the client, or unknown). */
  async machinesBy(
    scope: ReportScope,
    dimension: MachineDimension,
  ): Promise<Array<{ value: string | null; machines: number }>> {
    const column = { platform: 'm.platform', version: 'm.version', country: 'm.country' }[
      dimension
    ];
    return this.dataSource.query<Array<{ value: string | null; machines: number }>>(
      `SELECT ${column} AS value, count(*)::int AS machines
       FROM machines m
       JOIN licenses l ON l.id = m.license_id
       JOIN policies p ON p.id = l.policy_id
       WHERE ${licenseScope(scope, '$1')}
       GROUP BY 1
       ORDER BY 2 DESC, 1 NULLS LAST`,
      [scopeParam(scope)],
    );
  }
}

/**
 * The filter on a licenses row `l` joined to its policy `p`; `param` holds the scope's id (null for
 * everything, still named so PostgreSQL can type the parameter).
 */
function licenseScope(scope: ReportScope, param: string): string {
  switch (scope.type) {
    case 'all':
      return `(${param}::uuid IS NULL OR true)`;
    case 'product':
      return `p.product_id = ${param}::uuid`;
    case 'policy':
      return `l.policy_id = ${param}::uuid`;
    case 'customer':
      return `l.customer_id = ${param}::uuid`;
  }
}

/** The filter on the policies `p` listed by the seats report (a customer's: every policy). */
function policyScope(scope: ReportScope, param: string): string {
  switch (scope.type) {
    case 'product':
      return `p.product_id = ${param}::uuid`;
    case 'policy':
      return `p.id = ${param}::uuid`;
    case 'all':
    case 'customer':
      return `(${param}::uuid IS NULL OR true)`;
  }
}

function scopeParam(scope: ReportScope): string | null {
  return scope.type === 'all' ? null : scope.id;
}
