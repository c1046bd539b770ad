import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { EntityManager } from 'typeorm';

import { CustomerEntity } from 'src/modules/customers/customer.entity';
import { CustomerHasLicenses, ExternalIdTaken } from 'src/modules/customers/customer.errors';
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

  transaction<T>(work: (tx: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

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

  /** The licenses table's foreign key (ON DELETE RESTRICT) is the final word on whether this may go. */
  async delete(tx: EntityManager, id: string): Promise<void> {
    try {
      await tx.getRepository(CustomerEntity).delete({ id });
    } catch (error) {
      throw conflictOf(error);
    }
  }

  /** Whether licenses reference the customer; false while no migration has created `licenses` yet. */
  async hasLicenses(tx: EntityManager, id: string): Promise<boolean> {
    const [{ present }] = await tx.query<{ present: boolean }[]>(
      `SELECT to_regclass('licenses') IS NOT NULL AS present`,
    );
    if (!present) {
      return false;
    }
    const [{ referenced }] = await tx.query<{ referenced: boolean }[]>(
      `SELECT EXISTS (SELECT 1 FROM licenses WHERE customer_id = $1) AS referenced`,
      [id],
    );
    return referenced;
  }
}

/** Maps the constraint violations this table can raise to domain errors; anything else is unchanged. */
function conflictOf(error: unknown): unknown {
  if (uniqueViolation(error, 'uq_customers_external_id')) {
    return new ExternalIdTaken();
  }
  if (foreignKeyViolation(error)) {
    return new CustomerHasLicenses();
  }
  return error;
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}
