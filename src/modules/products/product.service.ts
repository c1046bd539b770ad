import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

import { ChangeRecorder } from 'src/modules/audit/change-recorder.service';
import type { ProductDto } from 'src/modules/products/product.dto';
import type { ProductEntity } from 'src/modules/products/product.entity';
import { ProductRepository } from 'src/modules/products/product.repository';
import { CatalogItemService, toCatalogItemDto } from 'src/platform/catalog/catalog-item.service';
import { Transactions } from 'src/platform/database/transaction';
import { ProductNotFound } from 'src/platform/errors/not-found';

/** The products policies are defined for: CRUD as for every catalog item (CatalogItemService). */
@Injectable()
export class ProductService extends CatalogItemService<ProductEntity> {
  constructor(products: ProductRepository, transactions: Transactions, changes: ChangeRecorder) {
    super('product', products, transactions, changes, () => new ProductNotFound());
  }

  /** For other modules (policies): the product, or null; inside `tx` if given. */
  async getById(tx: EntityManager | undefined, id: string): Promise<ProductDto | null> {
    const product = await this.items.getById(tx, id);
    return product === null ? null : toCatalogItemDto(product);
  }

  /** For other modules (policies): 404 PRODUCT_NOT_FOUND unless the product exists, inside `tx` if given. */
  async requireExists(tx: EntityManager | undefined, id: string): Promise<ProductDto> {
    return toCatalogItemDto(await this.require(tx, id));
  }
}
