import { Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import { DataSource } from 'typeorm';
import type { EntityManager } from 'typeorm';

import { LicenseEntity, MachineEntity, PolicyEntity } from 'src/modules/licenses/license.entity';
import { DEFAULT_HEARTBEAT_SECONDS } from 'src/modules/licenses/license-validation';
import type { ValidationSubject } from 'src/modules/licenses/license-validation';
import { LookupBatcher } from 'src/platform/database/lookup-batcher';

export interface ValidationRow extends ValidationSubject {
  id: string;
  policyId: string;
  policyName: string;
  durationSeconds: number | null;
}

// The hot path: license, policy, product code, entitlements, machine count and the scoped machine in one
// indexed query (key_hash is unique), run as a named prepared statement so PostgreSQL plans it once.
// It reads the catalog's tables (products, entitlements) directly: one round trip is the point.
export const VALIDATION_QUERY = `
  SELECT l.id, l.status, l.expires_at, l.last_check_in_at, l.created_at, l.max_machines_override,
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
@Injectable()
export class LicenseRepository {
  private readonly pool: Pool;

  constructor(private readonly dataSource: DataSource) {
    this.pool = (dataSource.driver as unknown as { master: Pool }).master;
  }

  // ---- Validation ----

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

  /** Writes a batch of validation times in one statement (never moving a time backwards). */
  async recordValidations(times: Map<string, Date>): Promise<void> {
    if (times.size === 0) {
      return;
    }
    await this.pool.query(
      `UPDATE licenses l SET last_validated_at = v.at
       FROM unnest($1::uuid[], $2::timestamptz[]) AS v(id, at)
       WHERE l.id = v.id AND (l.last_validated_at IS NULL OR l.last_validated_at < v.at)`,
      [[...times.keys()], [...times.values()]],
    );
  }

  // ---- Metrics ----

  /**
   * Seats per policy for the metrics gauges: machines in use, and seats the ACTIVE unexpired licenses allow
   * (their override, else the policy's limit; Infinity when one is unlimited). One aggregate over licenses
   * and machines, run on the metrics refresh interval, never per scrape.
   */
  async seatUsage(): Promise<
    Array<{ policyId: string; policyName: string; inUse: number; allowed: number }>
  > {
    const rows = await this.pool.query<{
      policy_id: string;
      policy_name: string;
      in_use: number;
      allowed: number | null;
      unlimited: boolean | null;
    }>(
      `SELECT p.id AS policy_id, p.name AS policy_name, COALESCE(u.in_use, 0)::int AS in_use,
              a.allowed::float8 AS allowed, a.unlimited
       FROM policies p
       LEFT JOIN (SELECT l.policy_id, count(*) AS in_use
                  FROM machines m JOIN licenses l ON l.id = m.license_id
                  GROUP BY l.policy_id) u ON u.policy_id = p.id
       LEFT JOIN (SELECT l.policy_id,
                         sum(COALESCE(l.max_machines_override, lp.max_machines)) AS allowed,
                         bool_or(COALESCE(l.max_machines_override, lp.max_machines) IS NULL) AS unlimited
                  FROM licenses l JOIN policies lp ON lp.id = l.policy_id
                  WHERE l.status = 'ACTIVE' AND (l.expires_at IS NULL OR l.expires_at > now())
                  GROUP BY l.policy_id) a ON a.policy_id = p.id`,
    );
    return rows.rows.map((row) => ({
      policyId: row.policy_id,
      policyName: row.policy_name,
      inUse: row.in_use,
      allowed: row.unlimited === true ? Infinity : (row.allowed ?? 0),
    }));
  }

  // ---- Policies ----

  createPolicy(tx: EntityManager, policy: Partial<PolicyEntity>): Promise<PolicyEntity> {
    const repository = tx.getRepository(PolicyEntity);
    return repository.save(repository.create(policy));
  }

  getPolicy(tx: EntityManager | undefined, id: string, lock = false): Promise<PolicyEntity | null> {
    return (tx ?? this.dataSource.manager).getRepository(PolicyEntity).findOne({
      where: { id },
      ...(lock ? { lock: { mode: 'pessimistic_write' as const } } : {}),
    });
  }

  findPolicies(
    limit: number,
    afterId: string | undefined,
    productId: string | undefined,
  ): Promise<PolicyEntity[]> {
    const query = this.dataSource
      .getRepository(PolicyEntity)
      .createQueryBuilder('p')
      .orderBy('p.id', 'ASC')
      .take(limit);
    if (afterId !== undefined) {
      query.andWhere('p.id > :afterId', { afterId });
    }
    if (productId !== undefined) {
      query.andWhere('p.product_id = :productId', { productId });
    }
    return query.getMany();
  }

  savePolicy(tx: EntityManager, policy: PolicyEntity): Promise<PolicyEntity> {
    return tx.getRepository(PolicyEntity).save(policy);
  }

  async deletePolicy(tx: EntityManager, id: string): Promise<void> {
    await tx.getRepository(PolicyEntity).delete({ id });
  }

  async setPolicyEntitlements(
    tx: EntityManager,
    policyId: string,
    entitlementIds: string[],
  ): Promise<void> {
    await tx.query(`DELETE FROM policy_entitlements WHERE policy_id = $1`, [policyId]);
    if (entitlementIds.length > 0) {
      await tx.query(
        `INSERT INTO policy_entitlements (policy_id, entitlement_id) SELECT $1, unnest($2::uuid[])`,
        [policyId, entitlementIds],
      );
    }
  }

  async policyEntitlementCodes(policyIds: string[]): Promise<Map<string, string[]>> {
    const rows = await this.dataSource.query<{ policy_id: string; codes: string[] }[]>(
      `SELECT pe.policy_id, array_agg(e.code ORDER BY e.code) AS codes
       FROM policy_entitlements pe JOIN entitlements e ON e.id = pe.entitlement_id
       WHERE pe.policy_id = ANY($1::uuid[]) GROUP BY pe.policy_id`,
      [policyIds],
    );
    return new Map(rows.map((r) => [r.policy_id, r.codes]));
  }

  // ---- Licenses ----

  createLicense(tx: EntityManager, license: Partial<LicenseEntity>): Promise<LicenseEntity> {
    const repository = tx.getRepository(LicenseEntity);
    return repository.save(repository.create(license));
  }

  /** With `lock`, the row is locked until the transaction ends: actions on one license serialise. */
  getLicense(
    tx: EntityManager | undefined,
    id: string,
    lock = false,
  ): Promise<LicenseEntity | null> {
    return (tx ?? this.dataSource.manager).getRepository(LicenseEntity).findOne({
      where: { id },
      ...(lock ? { lock: { mode: 'pessimistic_write' as const } } : {}),
    });
  }

  /** The license a key belongs to (by its keyed hash: one unique-index lookup). */
  getLicenseIdByKeyHash(keyHash: string): Promise<string | null> {
    return this.dataSource
      .getRepository(LicenseEntity)
      .findOne({ where: { keyHash }, select: { id: true } })
      .then((license) => license?.id ?? null);
  }

  getMachineByFingerprint(
    licenseId: string,
    fingerprint: string,
    tx?: EntityManager,
  ): Promise<MachineEntity | null> {
    return (tx ?? this.dataSource.manager)
      .getRepository(MachineEntity)
      .findOne({ where: { licenseId, fingerprint } });
  }

  findLicenses(
    limit: number,
    afterId: string | undefined,
    filter: { customerId?: string; policyId?: string; status?: string },
  ): Promise<LicenseEntity[]> {
    const query = this.dataSource
      .getRepository(LicenseEntity)
      .createQueryBuilder('l')
      .orderBy('l.id', 'ASC')
      .take(limit);
    if (afterId !== undefined) {
      query.andWhere('l.id > :afterId', { afterId });
    }
    if (filter.customerId !== undefined) {
      query.andWhere('l.customer_id = :customerId', { customerId: filter.customerId });
    }
    if (filter.policyId !== undefined) {
      query.andWhere('l.policy_id = :policyId', { policyId: filter.policyId });
    }
    if (filter.status !== undefined) {
      query.andWhere('l.status = :status', { status: filter.status });
    }
    return query.getMany();
  }

  saveLicense(tx: EntityManager, license: LicenseEntity): Promise<LicenseEntity> {
    return tx.getRepository(LicenseEntity).save(license);
  }

  async addLicenseEntitlements(
    tx: EntityManager,
    licenseId: string,
    entitlementIds: string[],
  ): Promise<void> {
    await tx.query(
      `INSERT INTO license_entitlements (license_id, entitlement_id) SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING`,
      [licenseId, entitlementIds],
    );
  }

  async removeLicenseEntitlements(
    tx: EntityManager,
    licenseId: string,
    entitlementIds: string[],
  ): Promise<void> {
    await tx.query(
      `DELETE FROM license_entitlements WHERE license_id = $1 AND entitlement_id = ANY($2::uuid[])`,
      [licenseId, entitlementIds],
    );
  }

  /** The license's own and its policy's entitlement codes, for several licenses at once. */
  async licenseEntitlementCodes(
    tx: EntityManager | undefined,
    licenseIds: string[],
  ): Promise<Map<string, string[]>> {
    const rows = await (tx ?? this.dataSource.manager).query<
      { license_id: string; codes: string[] }[]
    >(
      `SELECT l.id AS license_id,
              ARRAY(SELECT e.code FROM entitlements e
                    WHERE e.id IN (SELECT entitlement_id FROM policy_entitlements WHERE policy_id = l.policy_id
                                   UNION SELECT entitlement_id FROM license_entitlements WHERE license_id = l.id)
                    ORDER BY e.code) AS codes
       FROM licenses l WHERE l.id = ANY($1::uuid[])`,
      [licenseIds],
    );
    return new Map(rows.map((r) => [r.license_id, r.codes]));
  }

  // ---- Machines ----

  async machineExists(tx: EntityManager, licenseId: string, fingerprint: string): Promise<boolean> {
    return (await tx.getRepository(MachineEntity).count({ where: { licenseId, fingerprint } })) > 0;
  }

  countMachines(tx: EntityManager, licenseId: string): Promise<number> {
    return tx.getRepository(MachineEntity).count({ where: { licenseId } });
  }

  createMachine(tx: EntityManager, machine: Partial<MachineEntity>): Promise<MachineEntity> {
    const repository = tx.getRepository(MachineEntity);
    return repository.save(repository.create(machine));
  }

  getMachine(
    tx: EntityManager | undefined,
    id: string,
    lock = false,
  ): Promise<MachineEntity | null> {
    return (tx ?? this.dataSource.manager).getRepository(MachineEntity).findOne({
      where: { id },
      ...(lock ? { lock: { mode: 'pessimistic_write' as const } } : {}),
    });
  }

  findMachines(
    licenseId: string,
    limit: number,
    afterId: string | undefined,
  ): Promise<MachineEntity[]> {
    const query = this.dataSource
      .getRepository(MachineEntity)
      .createQueryBuilder('m')
      .where('m.license_id = :licenseId', { licenseId })
      .orderBy('m.id', 'ASC')
      .take(limit);
    if (afterId !== undefined) {
      query.andWhere('m.id > :afterId', { afterId });
    }
    return query.getMany();
  }

  saveMachine(tx: EntityManager, machine: MachineEntity): Promise<MachineEntity> {
    return tx.getRepository(MachineEntity).save(machine);
  }

  async deleteMachine(tx: EntityManager, id: string): Promise<void> {
    await tx.getRepository(MachineEntity).delete({ id });
  }

  /**
   * Floating licenses' machines whose last heartbeat (or activation, if none) is older than their policy's
   * heartbeat duration, locked and skipped if another instance is culling them already.
   */
  deadMachines(
    tx: EntityManager,
    now: Date,
    limit: number,
  ): Promise<{ id: string; license_id: string; fingerprint: string }[]> {
    return tx.query(
      `SELECT m.id, m.license_id, m.fingerprint FROM machines m
       JOIN licenses l ON l.id = m.license_id JOIN policies p ON p.id = l.policy_id
       WHERE p.floating AND p.require_heartbeat
         AND COALESCE(m.last_heartbeat_at, m.created_at)
             < $1::timestamptz - make_interval(secs => COALESCE(p.heartbeat_duration_seconds, $3))
       ORDER BY m.license_id, m.id LIMIT $2 FOR UPDATE OF m SKIP LOCKED`,
      // Ordered by license: the culler then takes each license's outbox lock in the same order as any
      // other instance culling at once, so two of them cannot deadlock.
      [now, limit, DEFAULT_HEARTBEAT_SECONDS],
    );
  }
}

function toValidationRow(row: RawValidationRow): ValidationRow {
  return {
    id: row.id,
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
