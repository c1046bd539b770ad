import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { EntityManager } from 'typeorm';

import { LicenseEntity } from 'src/modules/licenses/license.entity';

/** Licenses and the entitlements granted to them beyond their policy's. */
@Injectable()
export class LicenseRepository {
  constructor(private readonly dataSource: DataSource) {}

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
}
