import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { EntityManager } from 'typeorm';

import { ProductEntity } from 'src/modules/products/product.entity';
import { ProductCodeTaken, ProductInUse } from 'src/modules/products/product.errors';
import { foreignKeyViolation, uniqueViolation } from 'src/platform/database/pg-errors';

@Injectable()
export class ProductRepository {
  constructor(private readonly dataSource: DataSource) {}

  transaction<T>(work: (tx: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  getById(tx: EntityManager | undefined, id: string, lock = false): Promise<ProductEntity | null> {
    return (tx ?? this.dataSource.manager).getRepository(ProductEntity).findOne({
      where: { id },
      ...(lock ? { lock: { mode: 'pessimistic_write' as const } } : {}),
    });
  }

  findMany(
    filter: { code?: string },
    limit: number,
    afterId: string | undefined,
  ): Promise<ProductEntity[]> {
    const query = this.dataSource
      .getRepository(ProductEntity)
      .createQueryBuilder('p')
      .orderBy('p.id', 'ASC')
      .take(limit);
    if (filter.code !== undefined) {
      query.andWhere('p.code = :code', { code: filter.code });
    }
    if (afterId !== undefined) {
      query.andWhere('p.id > :afterId', { afterId });
    }
    return query.getMany();
  }

  async create(tx: EntityManager, product: Partial<ProductEntity>): Promise<ProductEntity> {
    const repository = tx.getRepository(ProductEntity);
    try {
      return await repository.save(repository.create(product));
    } catch (error) {
      throw conflictOf(error);
    }
  }

  save(tx: EntityManager, product: ProductEntity): Promise<ProductEntity> {
    return tx.getRepository(ProductEntity).save(product);
  }

  /** The policies table's foreign key (ON DELETE RESTRICT) is the final word on whether this may go. */
  async delete(tx: EntityManager, id: string): Promise<void> {
    try {
      await tx.getRepository(ProductEntity).delete({ id });
    } catch (error) {
      throw conflictOf(error);
    }
  }

  /** Whether policies reference the product; false while no migration has created `policies` yet. */
  async hasPolicies(tx: EntityManager, id: string): Promise<boolean> {
    const [{ present }] = await tx.query<{ present: boolean }[]>(
      `SELECT to_regclass('policies') IS NOT NULL AS present`,
    );
    if (!present) {
      return false;
    }
    const [{ referenced }] = await tx.query<{ referenced: boolean }[]>(
      `SELECT EXISTS (SELECT 1 FROM policies WHERE product_id = $1) AS referenced`,
      [id],
    );
    return referenced;
  }
}

/** Maps the constraint violations this table can raise to domain errors; anything else is unchanged. */
function conflictOf(error: unknown): unknown {
  if (uniqueViolation(error, 'uq_products_code')) {
    return new ProductCodeTaken();
  }
  if (foreignKeyViolation(error)) {
    return new ProductInUse();
  }
  return error;
}
