import { isDeepStrictEqual } from 'node:util';

import type { EntityManager } from 'typeorm';

import type { Actor } from 'src/platform/auth/actor';
import type { CatalogItemEntity } from 'src/platform/catalog/catalog-item.entity';
import type { CatalogItemRepository } from 'src/platform/catalog/catalog-item.repository';
import type { Transactions } from 'src/platform/database/transaction';
import type { DomainError } from 'src/platform/errors/domain-error';
import { StaleVersion } from 'src/platform/http/etag';
import { afterIdOf, page } from 'src/platform/http/pagination';

export interface CatalogItemDto {
  id: string;
  code: string;
  name: string;
  metadata: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
  version: number;
}

/**
 * The audit module's ChangeRecorder as this code uses it: the platform imports nothing from modules, so
 * the subclass (in its module) passes the recorder in.
 */
export interface RecordsChanges {
  record(
    tx: EntityManager,
    actor: Actor,
    change: {
      action: string;
      targetType: string;
      targetId: string;
      before?: Record<string, unknown>;
      after: Record<string, unknown> | null;
      event: { data: Record<string, unknown> };
    },
  ): Promise<void>;
}

/**
 * Create, read, update and delete of catalog items (products, entitlements), each change recorded as
 * `<kind>.created|updated|deleted` with the item as its event and code, name and metadata audited.
 */
export abstract class CatalogItemService<E extends CatalogItemEntity> {
  protected constructor(
    private readonly kind: string,
    protected readonly items: CatalogItemRepository<E>,
    private readonly transactions: Transactions,
    private readonly changes: RecordsChanges,
    private readonly notFound: () => DomainError,
  ) {}

  create(
    actor: Actor,
    input: { code: string; name: string; metadata?: Record<string, unknown> },
  ): Promise<CatalogItemDto> {
    return this.transactions.run(async (tx) => {
      const item = await this.items.create(tx, {
        code: input.code,
        name: input.name.trim(),
        metadata: input.metadata ?? {},
      } as Partial<E>);
      const dto = toCatalogItemDto(item);
      await this.changes.record(tx, actor, {
        action: `${this.kind}.created`,
        targetType: this.kind,
        targetId: item.id,
        after: auditedState(item),
        event: { data: { ...dto } },
      });
      return dto;
    });
  }

  async list(query: { code?: string; limit: number; cursor?: string }) {
    const rows = await this.items.findMany(
      { code: query.code },
      query.limit + 1,
      afterIdOf(query.cursor),
    );
    return page(rows, query.limit, toCatalogItemDto, (row) => ({ id: row.id }));
  }

  async get(id: string): Promise<CatalogItemDto> {
    return toCatalogItemDto(await this.require(undefined, id));
  }

  update(
    actor: Actor,
    id: string,
    version: number,
    changes: { name?: string; metadata?: Record<string, unknown> },
  ): Promise<CatalogItemDto> {
    return this.transactions.run(async (tx) => {
      const item = await this.require(tx, id, true);
      if (item.version !== version) {
        throw new StaleVersion();
      }
      const before = auditedState(item);
      const next = {
        name: changes.name?.trim() ?? item.name,
        metadata: changes.metadata ?? item.metadata,
      };
      if (isDeepStrictEqual(next, { name: item.name, metadata: item.metadata })) {
        return toCatalogItemDto(item);
      }
      const saved = await this.items.save(tx, Object.assign(item, next));
      const dto = toCatalogItemDto(saved);
      await this.changes.record(tx, actor, {
        action: `${this.kind}.updated`,
        targetType: this.kind,
        targetId: id,
        before,
        after: auditedState(saved),
        event: { data: { ...dto } },
      });
      return dto;
    });
  }

  /** Only items nothing references (the foreign keys of other modules refuse the delete). */
  async delete(actor: Actor, id: string): Promise<void> {
    await this.transactions.run(async (tx) => {
      const item = await this.require(tx, id, true);
      await this.items.delete(tx, id);
      await this.changes.record(tx, actor, {
        action: `${this.kind}.deleted`,
        targetType: this.kind,
        targetId: id,
        before: auditedState(item),
        after: null,
        event: { data: { ...toCatalogItemDto(item) } },
      });
    });
  }

  protected async require(tx: EntityManager | undefined, id: string, lock = false): Promise<E> {
    const item = await this.items.getById(tx, id, lock);
    if (item === null) {
      throw this.notFound();
    }
    return item;
  }
}

export function toCatalogItemDto(item: CatalogItemEntity): CatalogItemDto {
  return {
    id: item.id,
    code: item.code,
    name: item.name,
    metadata: item.metadata,
    createdAt: item.createdAt.toISOString(),
    updatedAt: item.updatedAt.toISOString(),
    version: item.version,
  };
}

/** What the audit log keeps of an item: the code, the name and the metadata. */
function auditedState(item: CatalogItemEntity): Record<string, unknown> {
  return { code: item.code, name: item.name, metadata: item.metadata };
}
