/**
 * What the reports count, written by the writer's own transaction into usage_deltas (insert only, so
 * writers never wait for each other) and folded into 15-minute rollups later (src/modules/reports).
 */
export type UsageMetric = 'validation' | 'machine' | 'license' | 'webhook';

export interface UsageDelta {
  readonly at: Date;
  readonly metric: UsageMetric;
  /** The series within the metric: a validation code, `activated`, `suspended`, `delivered`... */
  readonly dim: string;
  /** Null for what belongs to no license (an unknown key's validation, a webhook delivery). */
  readonly policyId: string | null;
  readonly customerId: string | null;
  readonly count?: number;
}

/** An EntityManager or a pg client: both take `(text, values)`. */
export interface Queryable {
  query(text: string, values?: unknown[]): Promise<unknown>;
}

/** The rollup bucket every count lands in: 15 minutes, so every time zone's hours and days align. */
export const USAGE_BUCKET_MS = 15 * 60_000;

/** A count of something that happened to a license (its policy and customer are the scopes it counts in). */
export function licenseUsage(
  metric: UsageMetric,
  dim: string,
  license: { readonly policyId: string; readonly customerId: string },
  at: Date,
): UsageDelta {
  return { at, metric, dim, policyId: license.policyId, customerId: license.customerId };
}

/** Adds the deltas in `db`'s transaction (one statement): rolled back with it, they count for nothing. */
export async function addUsage(db: Queryable, deltas: readonly UsageDelta[]): Promise<void> {
  if (deltas.length === 0) {
    return;
  }
  await db.query(
    `INSERT INTO usage_deltas (at, metric, dim, policy_id, customer_id, count)
     SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::uuid[], $5::uuid[], $6::int[])`,
    [
      deltas.map((d) => d.at),
      deltas.map((d) => d.metric),
      deltas.map((d) => d.dim),
      deltas.map((d) => d.policyId),
      deltas.map((d) => d.customerId),
      deltas.map((d) => d.count ?? 1),
    ],
  );
}
