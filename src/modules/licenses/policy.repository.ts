import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { EntityManager } from 'typeorm';

import { PolicyEntity } from 'src/modules/licenses/license.entity';

/** Policies and the entitlements they grant. */
@Injectable()
export class PolicyRepository {
  constructor(private readonly dataSource: DataSource) {}

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
}
