import { isDeepStrictEqual } from 'node:util';

import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

import type {
  CreateCustomerDto,
  CustomerDto,
  CustomerListDto,
  CustomerListQueryDto,
  UpdateCustomerDto,
} from 'src/modules/customers/customer.dto';
import type { CustomerEntity } from 'src/modules/customers/customer.entity';
import { CustomerErased } from 'src/modules/customers/customer.errors';
import { CustomerRepository } from 'src/modules/customers/customer.repository';
import { ChangeRecorder } from 'src/modules/audit/change-recorder.service';
import type { Actor } from 'src/platform/auth/actor';
import { Clock } from 'src/platform/clock';
import { Transactions } from 'src/platform/database/transaction';
import { CustomerNotFound } from 'src/platform/errors/not-found';
import { StaleVersion } from 'src/platform/http/etag';
import { forgetIdempotentResponsesAbout } from 'src/platform/http/idempotency';
import { afterIdOf, page } from 'src/platform/http/pagination';
import { OutboxRepository } from 'src/platform/outbox/outbox.repository';

export const ERASED_NAME = 'Erased customer';

// Everything a customer row says about a person. The audit log is append-only and cannot forget, so
// customer events name the fields that changed and never hold their values: erasure then leaves none behind.
const PERSONAL_FIELDS = ['name', 'email', 'externalId', 'metadata'] as const;
type PersonalData = Pick<CustomerEntity, (typeof PERSONAL_FIELDS)[number]>;

/** The customers licenses are issued to: CRUD, lookup by billing id, and GDPR erasure. */
@Injectable()
export class CustomerService {
  constructor(
    private readonly customers: CustomerRepository,
    private readonly transactions: Transactions,
    private readonly changes: ChangeRecorder,
    private readonly outbox: OutboxRepository,
    private readonly clock: Clock,
  ) {}

  async create(actor: Actor, input: CreateCustomerDto): Promise<CustomerDto> {
    return this.transactions.run(async (tx) => {
      const customer = await this.customers.create(tx, {
        name: input.name.trim(),
        email: input.email,
        externalId: input.externalId ?? null,
        metadata: input.metadata ?? {},
        erasedAt: null,
      });
      const dto = toCustomerDto(customer);
      await this.changes.record(tx, actor, {
        action: 'customer.created',
        targetType: 'customer',
        targetId: customer.id,
        metadata: { fields: filledFields(customer) },
        event: { data: { ...dto } },
      });
      return dto;
    });
  }

  async list(query: CustomerListQueryDto): Promise<CustomerListDto> {
    const rows = await this.customers.findMany(
      { email: query.email, externalId: query.externalId, q: query.q },
      query.limit + 1,
      afterIdOf(query.cursor),
    );
    return page(rows, query.limit, toCustomerDto, (row) => ({ id: row.id }));
  }

  async get(id: string): Promise<CustomerDto> {
    return toCustomerDto(await this.require(undefined, id));
  }

  async update(
    actor: Actor,
    id: string,
    version: number,
    changes: UpdateCustomerDto,
  ): Promise<CustomerDto> {
    return this.transactions.run(async (tx) => {
      const customer = await this.require(tx, id, true);
      if (customer.version !== version) {
        throw new StaleVersion();
      }
      if (customer.erasedAt !== null) {
        throw new CustomerErased();
      }
      const next: PersonalData = {
        name: changes.name?.trim() ?? customer.name,
        email: changes.email ?? customer.email,
        externalId: changes.externalId === undefined ? customer.externalId : changes.externalId,
        metadata: changes.metadata ?? customer.metadata,
      };
      const fields = PERSONAL_FIELDS.filter((f) => !isDeepStrictEqual(customer[f], next[f]));
      if (fields.length === 0) {
        return toCustomerDto(customer);
      }
      const saved = await this.customers.save(tx, Object.assign(customer, next));
      const dto = toCustomerDto(saved);
      await this.changes.record(tx, actor, {
        action: 'customer.updated',
        targetType: 'customer',
        targetId: id,
        metadata: { fields },
        event: { data: { ...dto } },
      });
      return dto;
    });
  }

  /** Only customers no license references; others can be erased instead. */
  async delete(actor: Actor, id: string): Promise<void> {
    await this.transactions.run(async (tx) => {
      const customer = await this.require(tx, id, true);
      await this.customers.delete(tx, id);
      await this.changes.record(tx, actor, {
        action: 'customer.deleted',
        targetType: 'customer',
        targetId: id,
        event: { data: { ...toCustomerDto(customer) } },
      });
    });
  }

  /**
   * GDPR erasure: anonymises the row and keeps it, so licenses and the audit trail still point somewhere.
   * Erasing an erased customer changes nothing and records nothing.
   */
  async erase(actor: Actor, id: string): Promise<CustomerDto> {
    return this.transactions.run(async (tx) => {
      const customer = await this.require(tx, id, true);
      if (customer.erasedAt !== null) {
        return toCustomerDto(customer);
      }
      const erasedFields = filledFields(customer);
      const saved = await this.customers.save(
        tx,
        Object.assign(customer, {
          name: ERASED_NAME,
          email: null,
          externalId: null,
          metadata: {},
          erasedAt: this.clock.now(),
        }),
      );
      const dto = toCustomerDto(saved);
      // Earlier events and stored idempotent responses must not keep what was just erased.
      await this.outbox.replaceAggregateData(tx, 'customer', id, { ...dto });
      await forgetIdempotentResponsesAbout(tx, id);
      await this.changes.record(tx, actor, {
        action: 'customer.erased',
        targetType: 'customer',
        targetId: id,
        before: { erasedAt: null },
        after: { erasedAt: dto.erasedAt },
        metadata: { erasedFields },
        event: { data: { ...dto } },
      });
      return dto;
    });
  }

  private async require(
    tx: EntityManager | undefined,
    id: string,
    lock = false,
  ): Promise<CustomerEntity> {
    const customer = await this.customers.getById(tx, id, lock);
    if (customer === null) {
      throw new CustomerNotFound();
    }
    return customer;
  }
}

function toCustomerDto(customer: CustomerEntity): CustomerDto {
  return {
    id: customer.id,
    name: customer.name,
    email: customer.email,
    externalId: customer.externalId,
    metadata: customer.metadata,
    erasedAt: customer.erasedAt?.toISOString() ?? null,
    createdAt: customer.createdAt.toISOString(),
    updatedAt: customer.updatedAt.toISOString(),
    version: customer.version,
  };
}

/** The personal fields holding something. */
function filledFields(customer: PersonalData): string[] {
  return PERSONAL_FIELDS.filter((field) => {
    const value = customer[field];
    return value !== null && !(typeof value === 'object' && Object.keys(value).length === 0);
  });
}
