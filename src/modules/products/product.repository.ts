import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { EntityManager } from 'typeorm';

import { ProductEntity } from 'src/modules/products/product.entity';
import { ProductCodeTaken, ProductInUse } from 'src/modules/products/product.errors';
import { foreignKeyViolation, uniqueViolation } from 'src/platform/database/pg-errors';

@Injectable()
export class ProductRepository {
  constructor(private readonly dataSource: DataSource) {}

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

  /**
   * Rows of other modules that reference the product (policies) hold foreign keys with ON DELETE RESTRICT,
   * so the database refuses the delete: PRODUCT_IN_USE. This module never reads their tables.
   */
  async delete(tx: EntityManager, id: string): Promise<void> {
    try {
      await tx.getRepository(ProductEntity).delete({ id });
    } catch (error) {
      throw foreignKeyViolation(error) ? new ProductInUse() : error;
    }
  }
}

/** Maps the unique violation this table can raise on writes to its domain error; anything else is unchanged. */
function conflictOf(error: unknown): unknown {
  return uniqueViolation(error, 'uq_products_code') ? new ProductCodeTaken() : error;
}
