import { Injectable } from '@nestjs/common';
import { DataSource, In } from 'typeorm';
import type { EntityManager } from 'typeorm';

import { EntitlementEntity } from 'src/modules/entitlements/entitlement.entity';
import {
  EntitlementCodeTaken,
  EntitlementInUse,
} from 'src/modules/entitlements/entitlement.errors';
import { foreignKeyViolation, uniqueViolation } from 'src/platform/database/pg-errors';

// Written by the licenses module's migrations; each references entitlements(id) ON DELETE RESTRICT.
const GRANT_TABLES = ['policy_entitlements', 'license_entitlements'];

@Injectable()
export class EntitlementRepository {
  constructor(private readonly dataSource: DataSource) {}

  transaction<T>(work: (tx: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

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

  /** The grant tables' foreign keys (ON DELETE RESTRICT) are the final word on whether this may go. */
  async delete(tx: EntityManager, id: string): Promise<void> {
    try {
      await tx.getRepository(EntitlementEntity).delete({ id });
    } catch (error) {
      throw conflictOf(error);
    }
  }

  /**
   * Whether a policy or a license grants the entitlement. A grant table a later migration has not created
   * yet grants nothing.
   */
  async isGranted(tx: EntityManager, id: string): Promise<boolean> {
    const existing = await tx.query<{ name: string }[]>(
      `SELECT name FROM unnest($1::text[]) AS name WHERE to_regclass(name) IS NOT NULL`,
      [GRANT_TABLES],
    );
    const tables = existing.map((row) => row.name);
    if (tables.length === 0) {
      return false;
    }
    const [{ referenced }] = await tx.query<{ referenced: boolean }[]>(
      `SELECT ${tables.map((t) => `EXISTS (SELECT 1 FROM ${t} WHERE entitlement_id = $1)`).join(' OR ')} AS referenced`,
      [id],
    );
    return referenced;
  }
}

/** Maps the constraint violations this table can raise to domain errors; anything else is unchanged. */
function conflictOf(error: unknown): unknown {
  if (uniqueViolation(error, 'uq_entitlements_code')) {
    return new EntitlementCodeTaken();
  }
  if (foreignKeyViolation(error)) {
    return new EntitlementInUse();
  }
  return error;
}
