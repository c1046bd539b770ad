import { Entity } from 'typeorm';

import { CatalogItemEntity } from 'src/platform/catalog/catalog-item.entity';

/** A named feature a policy or license grants, e.g. `feature.export-pdf`. */
@Entity({ name: 'entitlements' })
export class EntitlementEntity extends CatalogItemEntity {}
