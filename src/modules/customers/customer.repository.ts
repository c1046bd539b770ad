import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { EntityManager } from 'typeorm';

import { CustomerEntity } from 'src/modules/customers/customer.entity';
import { CustomerHasLicenses, ExternalIdTaken } from 'src/modules/customers/customer.errors';
import { escapeLike } from 'src/platform/database/like';
import { foreignKeyViolation, uniqueViolation } from 'src/platform/database/pg-errors';

export interface CustomerFilter {
  readonly email?: string;
  readonly externalId?: string;
  /** Prefix of the name or the email. */
  readonly q?: string;
}

@Injectable()
export class CustomerRepository {
  constructor(private readonly dataSource: DataSource) {}

  getById(tx: EntityManager | undefined, id: string, lock = false): Promise<CustomerEntity | null> {
    return (tx ?? this.dataSource.manager).getRepository(CustomerEntity).findOne({
      where: { id },
      ...(lock ? { lock: { mode: 'pessimistic_write' as const } } : {}),
    });
  }

  findMany(
    filter: CustomerFilter,
    limit: number,
    afterId: string | undefined,
  ): Promise<CustomerEntity[]> {
    const query = this.dataSource
      .getRepository(CustomerEntity)
      .createQueryBuilder('c')
      .orderBy('c.id', 'ASC')
      .take(limit);
    if (filter.email !== undefined) {
      query.andWhere('lower(c.email) = lower(:email)', { email: filter.email });
    }
    if (filter.externalId !== undefined) {
      query.andWhere('c.external_id = :externalId', { externalId: filter.externalId });
    }
    if (filter.q !== undefined) {
      query.andWhere('(lower(c.name) LIKE :prefix OR lower(c.email) LIKE :prefix)', {
        prefix: `${escapeLike(filter.q.toLowerCase())}%`,
      });
    }
    if (afterId !== undefined) {
      query.andWhere('c.id > :afterId', { afterId });
    }
    return query.getMany();
  }

  async create(tx: EntityManager, customer: Partial<CustomerEntity>): Promise<CustomerEntity> {
    const repository = tx.getRepository(CustomerEntity);
    try {
      return await repository.save(repository.create(customer));
    } catch (error) {
      throw conflictOf(error);
    }
  }

  async save(tx: EntityManager, customer: CustomerEntity): Promise<CustomerEntity> {
    try {
      return await tx.getRepository(CustomerEntity).save(customer);
    } catch (error) {
      throw conflictOf(error);
    }
  }

  /**
   * Rows of other modules that reference the customer (licenses) hold foreign keys with ON DELETE RESTRICT,
   * so the database refuses the delete: CUSTOMER_HAS_LICENSES. This module never reads their tables.
   */
  async delete(tx: EntityManager, id: string): Promise<void> {
    try {
      await tx.getRepository(CustomerEntity).delete({ id });
    } catch (error) {
      throw foreignKeyViolation(error) ? new CustomerHasLicenses() : error;
    }
  }
}

/** Maps the unique violation this table can raise on writes to its domain error; anything else is unchanged. */
function conflictOf(error: unknown): unknown {
  return uniqueViolation(error, 'uq_customers_external_id') ? new ExternalIdTaken() : error;
}
