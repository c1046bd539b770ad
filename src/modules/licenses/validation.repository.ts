import { Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import { DataSource } from 'typeorm';

import type { ValidationSubject } from 'src/modules/licenses/license-validation';
import type { ValidationEvent } from 'src/modules/licenses/validation-tally';
import { LookupBatcher } from 'src/platform/database/lookup-batcher';
import { poolOf } from 'src/platform/database/pool';
import { addUsage } from 'src/platform/usage/usage-deltas';
import type { UsageDelta } from 'src/platform/usage/usage-deltas';

export interface ValidationRow extends ValidationSubject {
  id: string;
  customerId: string;
  policyId: string;
  policyName: string;
  durationSeconds: number | null;
}

// The hot path: license, policy, product code, entitlements, machine count and the scoped machine in one
// indexed query (key_hash is unique), run as a named prepared statement so PostgreSQL plans it once.
// It reads the catalog's tables (products, entitlements) directly: one round trip is the point.
export const VALIDATION_QUERY = `
  SELECT l.id, l.customer_id, l.status, l.expires_at, l.last_check_in_at, l.created_at, l.max_machines_override,
         p.id AS policy_id, p.name AS policy_name, p.duration_seconds, p.product_id, pr.code AS product_code,
         p.expiration_strategy, p.floating, p.max_machines, p.overage_strategy, p.require_heartbeat,
         p.heartbeat_duration_seconds, p.require_check_in, p.check_in_interval_seconds,
         ARRAY(SELECT e.code FROM entitlements e
               WHERE e.id IN (SELECT entitlement_id FROM policy_entitlements WHERE policy_id = p.id
                              UNION SELECT entitlement_id FROM license_entitlements WHERE license_id = l.id)
               ORDER BY e.code) AS entitlements,
         (SELECT count(*) FROM machines c WHERE c.license_id = l.id)::int AS machine_count,
         m.id AS machine_id, m.last_heartbeat_at AS machine_heartbeat, m.created_at AS machine_created_at
  FROM licenses l
  JOIN policies p ON p.id = l.policy_id
  JOIN products pr ON pr.id = p.product_id
  LEFT JOIN machines m ON m.license_id = l.id AND m.fingerprint = $2
  WHERE l.key_hash = $1`;

// The same lookup for many keys at once: concurrent validations share one round trip (LookupBatcher).
// LATERAL runs the single-key query once per requested key, so each is the same unique-index lookup
// whatever the planner guesses about the array's size; `ord` maps rows back to their requests.
export const VALIDATION_BATCH_QUERY = `
  SELECT v.ord::int AS ord, x.*
  FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS v(key_hash, fingerprint, ord)
  CROSS JOIN LATERAL (${VALIDATION_QUERY.replace('$1', 'v.key_hash').replace('$2', 'v.fingerprint')}) x`;

interface RawValidationRow {
  id: string;
  customer_id: string;
  status: ValidationSubject['status'];
  expires_at: Date | null;
  last_check_in_at: Date | null;
  created_at: Date;
  max_machines_override: number | null;
  policy_id: string;
  policy_name: string;
  duration_seconds: number | null;
  product_id: string;
  product_code: string;
  expiration_strategy: ValidationSubject['policy']['expirationStrategy'];
  floating: boolean;
  max_machines: number | null;
  overage_strategy: ValidationSubject['policy']['overageStrategy'];
  require_heartbeat: boolean;
  heartbeat_duration_seconds: number | null;
  require_check_in: boolean;
  check_in_interval_seconds: number | null;
  entitlements: string[];
  machine_count: number;
  machine_id: string | null;
  machine_heartbeat: Date | null;
  machine_created_at: Date | null;
}

/** Policies, licenses and machines: the licensing module's only TypeORM and SQL user. */
/** The validation hot path, on the pool's own connections: prepared statements, batched lookups. */
@Injectable()
export class ValidationRepository {
  private readonly pool: Pool;

  constructor(private readonly dataSource: DataSource) {
    this.pool = poolOf(dataSource);
  }

  /** One validation's lookup; concurrent ones are sent to PostgreSQL together, in one query. */
  async findForValidation(
    keyHash: string,
    fingerprint: string | null,
  ): Promise<ValidationRow | null> {
    const row = await this.validationLookups.load([keyHash, fingerprint]);
    return row === undefined ? null : toValidationRow(row);
  }

  private readonly validationLookups = new LookupBatcher<
    [keyHash: string, fingerprint: string | null],
    RawValidationRow
  >(async (lookups) => {
    if (lookups.length === 1) {
      const result = await this.pool.query<RawValidationRow>({
        name: 'tessera-validate-license',
        text: VALIDATION_QUERY,
        values: lookups[0],
      });
      return [result.rows[0]];
    }
    const result = await this.pool.query<RawValidationRow & { ord: number }>({
      name: 'tessera-validate-licenses',
      text: VALIDATION_BATCH_QUERY,
      values: [lookups.map(([keyHash]) => keyHash), lookups.map(([, fingerprint]) => fingerprint)],
    });
    const rows: Array<RawValidationRow | undefined> = new Array<RawValidationRow | undefined>(
      lookups.length,
    );
    for (const row of result.rows) {
      rows[row.ord - 1] = row;
    }
    return rows;
  });

  /**
   * Writes what a few seconds of validations left behind, in one transaction: the licenses' validation
   * times (never moving one backwards), the raw validations and their counts for the reports.
   */
  async recordValidations(
    times: Map<string, Date>,
    counts: readonly UsageDelta[],
    events: readonly ValidationEvent[],
  ): Promise<void> {
    await this.dataSource.transaction(async (tx) => {
      if (times.size > 0) {
        await tx.query(
          `UPDATE licenses l SET last_validated_at = v.at
           FROM unnest($1::uuid[], $2::timestamptz[]) AS v(id, at)
           WHERE l.id = v.id AND (l.last_validated_at IS NULL OR l.last_validated_at < v.at)`,
          [[...times.keys()], [...times.values()]],
        );
      }
      if (events.length > 0) {
        await tx.query(
          `INSERT INTO validation_events (at, code, license_id, policy_id, product_id, customer_id, fingerprint)
           SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::uuid[], $4::uuid[], $5::uuid[],
                                $6::uuid[], $7::text[])`,
          [
            events.map((e) => e.at),
            events.map((e) => e.code),
            events.map((e) => e.licenseId),
            events.map((e) => e.policyId),
            events.map((e) => e.productId),
            events.map((e) => e.customerId),
            events.map((e) => e.fingerprint),
          ],
        );
      }
      await addUsage(tx, counts);
    });
  }
}

function toValidationRow(row: RawValidationRow): ValidationRow {
  return {
    id: row.id,
    customerId: row.customer_id,
    policyId: row.policy_id,
    policyName: row.policy_name,
    durationSeconds: row.duration_seconds,
    status: row.status,
    expiresAt: row.expires_at,
    lastCheckInAt: row.last_check_in_at,
    createdAt: row.created_at,
    maxMachinesOverride: row.max_machines_override,
    entitlements: row.entitlements,
    machineCount: row.machine_count,
    machine:
      row.machine_id === null
        ? null
        : { lastHeartbeatAt: row.machine_heartbeat, createdAt: row.machine_created_at! },
    policy: {
      productId: row.product_id,
      productCode: row.product_code,
      expirationStrategy: row.expiration_strategy,
      floating: row.floating,
      maxMachines: row.max_machines,
      overageStrategy: row.overage_strategy,
      requireHeartbeat: row.require_heartbeat,
      heartbeatDurationSeconds: row.heartbeat_duration_seconds,
      requireCheckIn: row.require_check_in,
      checkInIntervalSeconds: row.check_in_interval_seconds,
    },
  };
}
