import { isDeepStrictEqual } from 'node:util';

import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

import { ChangeRecorder } from 'src/modules/audit/change-recorder.service';
import type {
  CreateProductDto,
  ProductDto,
  ProductListDto,
  ProductListQueryDto,
  UpdateProductDto,
} from 'src/modules/products/product.dto';
import type { ProductEntity } from 'src/modules/products/product.entity';
import { ProductNotFound } from 'src/modules/products/product.errors';
import { ProductRepository } from 'src/modules/products/product.repository';
import type { Actor } from 'src/platform/auth/actor';
import { Transactions } from 'src/platform/database/transaction';
import { StaleVersion } from 'src/platform/http/etag';
import { afterIdOf, page } from 'src/platform/http/pagination';

/** The products policies are defined for. */
@Injectable()
export class ProductService {
  constructor(
    private readonly products: ProductRepository,
    private readonly transactions: Transactions,
    private readonly changes: ChangeRecorder,
  ) {}

  async create(actor: Actor, input: CreateProductDto): Promise<ProductDto> {
    return this.transactions.run(async (tx) => {
      const product = await this.products.create(tx, {
        code: input.code,
        name: input.name.trim(),
        metadata: input.metadata ?? {},
      });
      const dto = toProductDto(product);
      await this.changes.record(tx, actor, {
        action: 'product.created',
        targetType: 'product',
        targetId: product.id,
        after: auditedState(product),
        event: { data: { ...dto } },
      });
      return dto;
    });
  }

  async list(query: ProductListQueryDto): Promise<ProductListDto> {
    const rows = await this.products.findMany(
      { code: query.code },
      query.limit + 1,
      afterIdOf(query.cursor),
    );
    return page(rows, query.limit, toProductDto, (row) => ({ id: row.id }));
  }

  async get(id: string): Promise<ProductDto> {
    return toProductDto(await this.require(undefined, id));
  }

  /** For other modules (policies): the product, or null; inside `tx` if given. */
  async getById(tx: EntityManager | undefined, id: string): Promise<ProductDto | null> {
    const product = await this.products.getById(tx, id);
    return product === null ? null : toProductDto(product);
  }

  /** For other modules (policies): 404 PRODUCT_NOT_FOUND unless the product exists, inside `tx` if given. */
  async requireExists(tx: EntityManager | undefined, id: string): Promise<ProductDto> {
    return toProductDto(await this.require(tx, id));
  }

  async update(
    actor: Actor,
    id: string,
    version: number,
    changes: UpdateProductDto,
  ): Promise<ProductDto> {
    return this.transactions.run(async (tx) => {
      const product = await this.require(tx, id, true);
      if (product.version !== version) {
        throw new StaleVersion();
      }
      const before = auditedState(product);
      const next = {
        name: changes.name?.trim() ?? product.name,
        metadata: changes.metadata ?? product.metadata,
      };
      if (isDeepStrictEqual(next, { name: product.name, metadata: product.metadata })) {
        return toProductDto(product);
      }
      const saved = await this.products.save(tx, Object.assign(product, next));
      const dto = toProductDto(saved);
      await this.changes.record(tx, actor, {
        action: 'product.updated',
        targetType: 'product',
        targetId: id,
        before,
        after: auditedState(saved),
        event: { data: { ...dto } },
      });
      return dto;
    });
  }

  /** Only products no policy references. */
  async delete(actor: Actor, id: string): Promise<void> {
    await this.transactions.run(async (tx) => {
      const product = await this.require(tx, id, true);
      await this.products.delete(tx, id);
      await this.changes.record(tx, actor, {
        action: 'product.deleted',
        targetType: 'product',
        targetId: id,
        before: auditedState(product),
        after: null,
        event: { data: { ...toProductDto(product) } },
      });
    });
  }

  private async require(
    tx: EntityManager | undefined,
    id: string,
    lock = false,
  ): Promise<ProductEntity> {
    const product = await this.products.getById(tx, id, lock);
    if (product === null) {
      throw new ProductNotFound();
    }
    return product;
  }
}

function toProductDto(product: ProductEntity): ProductDto {
  return {
    id: product.id,
    code: product.code,
    name: product.name,
    metadata: product.metadata,
    createdAt: product.createdAt.toISOString(),
    updatedAt: product.updatedAt.toISOString(),
    version: product.version,
  };
}

function auditedState(product: ProductEntity): Record<string, unknown> {
  return { code: product.code, name: product.name, metadata: product.metadata };
}
