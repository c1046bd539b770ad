import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

import { ProductEntity } from 'src/modules/products/product.entity';
import { ProductCodeTaken, ProductInUse } from 'src/modules/products/product.errors';
import { CatalogItemRepository } from 'src/platform/catalog/catalog-item.repository';

/** Referenced by policies (fk_policies_product, ON DELETE RESTRICT): a product in use is PRODUCT_IN_USE. */
@Injectable()
export class ProductRepository extends CatalogItemRepository<ProductEntity> {
  constructor(dataSource: DataSource) {
    super(dataSource, {
      entity: ProductEntity,
      codeConstraint: 'uq_products_code',
      codeTaken: () => new ProductCodeTaken(),
      inUse: () => new ProductInUse(),
    });
  }
}
