import { Entity } from 'typeorm';

import { CatalogItemEntity } from 'src/platform/catalog/catalog-item.entity';

/** A piece of software policies (and through them licenses) are issued for. */
@Entity({ name: 'products' })
export class ProductEntity extends CatalogItemEntity {}
