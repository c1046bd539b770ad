import { Injectable } from '@nestjs/common';
import { DataSource, In } from 'typeorm';
import type { EntityManager } from 'typeorm';

import { EntitlementEntity } from 'src/modules/entitlements/entitlement.entity';
import {
  EntitlementCodeTaken,
  EntitlementInUse,
} from 'src/modules/entitlements/entitlement.errors';
import { CatalogItemRepository } from 'src/platform/catalog/catalog-item.repository';

/** Granted by policies' and licenses' rows (ON DELETE RESTRICT): one in use is ENTITLEMENT_IN_USE. */
@Injectable()
export class EntitlementRepository extends CatalogItemRepository<EntitlementEntity> {
  constructor(dataSource: DataSource) {
    super(dataSource, {
      entity: EntitlementEntity,
      codeConstraint: 'uq_entitlements_code',
      codeTaken: () => new EntitlementCodeTaken(),
      inUse: () => new EntitlementInUse(),
    });
  }

  findByCodes(tx: EntityManager | undefined, codes: string[]): Promise<EntitlementEntity[]> {
    return (tx ?? this.dataSource.manager)
      .getRepository(EntitlementEntity)
      .find({ where: { code: In(codes) } });
  }

  findByIds(tx: EntityManager | undefined, ids: string[]): Promise<EntitlementEntity[]> {
    return (tx ?? this.dataSource.manager)
      .getRepository(EntitlementEntity)
      .find({ where: { id: In(ids) }, order: { code: 'ASC' } });
  }
}
