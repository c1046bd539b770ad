import { Injectable } from '@nestjs/common';
import { DataSource, In } from 'typeorm';
import type { EntityManager } from 'typeorm';

import { EntitlementEntity } from 'src/modules/entitlements/entitlement.entity';
import {
  EntitlementCodeTaken,
  EntitlementInUse,
} from 'src/modules/entitlements/entitlement.errors';
import { foreignKeyViolation, uniqueViolation } from 'src/platform/database/pg-errors';

@Injectable()
export class EntitlementRepository {
  constructor(private readonly dataSource: DataSource) {}

  getById(
    tx: EntityManager | undefined,
    id: string,
    lock = false,
  ): Promise<EntitlementEntity | null> {
    return (tx ?? this.dataSource.manager).getRepository(EntitlementEntity).findOne({
      where: { id },
      ...(lock ? { lock: { mode: 'pessimistic_write' as const } } : {}),
    });
  }

  findMany(
    filter: { code?: string },
    limit: number,
    afterId: string | undefined,
  ): Promise<EntitlementEntity[]> {
    const query = this.dataSource
      .getRepository(EntitlementEntity)
      .createQueryBuilder('e')
      .orderBy('e.id', 'ASC')
      .take(limit);
    if (filter.code !== undefined) {
      query.andWhere('e.code = :code', { code: filter.code });
    }
    if (afterId !== undefined) {
      query.andWhere('e.id > :afterId', { afterId });
    }
    return query.getMany();
  }

  findByCodes(tx: EntityManager | undefined, codes: string[]): Promise<EntitlementEntity[]> {
    return (tx ?? this.dataSource.manager)
      .getRepository(EntitlementEntity)
      .find({ where: { code: In(codes) } });
  }

  findByIds(tx: EntityManager | undefined, ids: string[]): Promise<EntitlementEntity[]> {
    return (tx ?? this.dataSource.manager)
      .getRepository(EntitlementEntity)
      .find({ where: { id: In(ids) }, order: { code: 'ASC' } });
  }

  async create(
    tx: EntityManager,
    entitlement: Partial<EntitlementEntity>,
  ): Promise<EntitlementEntity> {
    const repository = tx.getRepository(EntitlementEntity);
    try {
      return await repository.save(repository.create(entitlement));
    } catch (error) {
      throw conflictOf(error);
    }
  }

  save(tx: EntityManager, entitlement: EntitlementEntity): Promise<EntitlementEntity> {
    return tx.getRepository(EntitlementEntity).save(entitlement);
  }

  /**
   * Rows of other modules that grant the entitlement (policies', licenses') hold foreign keys with
   * ON DELETE RESTRICT, so the database refuses the delete: ENTITLEMENT_IN_USE. This module never reads
   * their tables.
   */
  async delete(tx: EntityManager, id: string): Promise<void> {
    try {
      await tx.getRepository(EntitlementEntity).delete({ id });
    } catch (error) {
      throw foreignKeyViolation(error) ? new EntitlementInUse() : error;
    }
  }
}

/** Maps the unique violation this table can raise on writes to its domain error; anything else is unchanged. */
function conflictOf(error: unknown): unknown {
  return uniqueViolation(error, 'uq_entitlements_code') ? new EntitlementCodeTaken() : error;
}
