import type { DataSource, EntityManager, FindOptionsWhere } from 'typeorm';

import type { CatalogItemEntity } from 'src/platform/catalog/catalog-item.entity';
import { foreignKeyViolation, uniqueViolation } from 'src/platform/database/pg-errors';

/** How one module's table of catalog items maps its constraint violations to domain errors. */
export interface CatalogItemTable<E extends CatalogItemEntity> {
  readonly entity: new () => E;
  /** The unique constraint on `code`, and the error it means. */
  readonly codeConstraint: string;
  readonly codeTaken: () => Error;
  /**
   * Rows of other modules that reference the item hold foreign keys with ON DELETE RESTRICT, so the
   * database refuses the delete: this error. The module never reads their tables.
   */
  readonly inUse: () => Error;
}

/** The queries products and entitlements share; each module's repository extends it. */
export abstract class CatalogItemRepository<E extends CatalogItemEntity> {
  protected constructor(
    protected readonly dataSource: DataSource,
    private readonly table: CatalogItemTable<E>,
  ) {}

  getById(tx: EntityManager | undefined, id: string, lock = false): Promise<E | null> {
    return (tx ?? this.dataSource.manager).getRepository(this.table.entity).findOne({
      where: { id } as FindOptionsWhere<E>,
      ...(lock ? { lock: { mode: 'pessimistic_write' as const } } : {}),
    });
  }

  findMany(filter: { code?: string }, limit: number, afterId: string | undefined): Promise<E[]> {
    const query = this.dataSource
      .getRepository(this.table.entity)
      .createQueryBuilder('item')
      .orderBy('item.id', 'ASC')
      .take(limit);
    if (filter.code !== undefined) {
      query.andWhere('item.code = :code', { code: filter.code });
    }
    if (afterId !== undefined) {
      query.andWhere('item.id > :afterId', { afterId });
    }
    return query.getMany();
  }

  async create(tx: EntityManager, item: Partial<E>): Promise<E> {
    const repository = tx.getRepository(this.table.entity);
    try {
      return await repository.save(repository.create(item as E));
    } catch (error) {
      throw uniqueViolation(error, this.table.codeConstraint) ? this.table.codeTaken() : error;
    }
  }

  save(tx: EntityManager, item: E): Promise<E> {
    return tx.getRepository(this.table.entity).save(item);
  }

  async delete(tx: EntityManager, id: string): Promise<void> {
    try {
      await tx.getRepository(this.table.entity).delete({ id } as FindOptionsWhere<E>);
    } catch (error) {
      throw foreignKeyViolation(error) ? this.table.inUse() : error;
    }
  }
}
