import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

import { ChangeRecorder } from 'src/modules/audit/change-recorder.service';
import type { EntitlementDto } from 'src/modules/entitlements/entitlement.dto';
import type { EntitlementEntity } from 'src/modules/entitlements/entitlement.entity';
import {
  EntitlementNotFound,
  UnknownEntitlements,
} from 'src/modules/entitlements/entitlement.errors';
import { EntitlementRepository } from 'src/modules/entitlements/entitlement.repository';
import { CatalogItemService, toCatalogItemDto } from 'src/platform/catalog/catalog-item.service';
import { Transactions } from 'src/platform/database/transaction';

/** The features policies and licenses grant, by code: CRUD as for every catalog item. */
@Injectable()
export class EntitlementService extends CatalogItemService<EntitlementEntity> {
  constructor(
    private readonly entitlements: EntitlementRepository,
    transactions: Transactions,
    changes: ChangeRecorder,
  ) {
    super('entitlement', entitlements, transactions, changes, () => new EntitlementNotFound());
  }

  /**
   * For other modules (policies, licenses): the entitlements with these codes, in the order given, without
   * duplicates; 422 UNKNOWN_ENTITLEMENTS naming every code that matches none. Inside `tx` if given.
   */
  async requireByCodes(
    codes: string[],
    tx?: EntityManager,
  ): Promise<{ id: string; code: string }[]> {
    const wanted = [...new Set(codes)];
    if (wanted.length === 0) {
      return [];
    }
    const byCode = new Map(
      (await this.entitlements.findByCodes(tx, wanted)).map((row) => [row.code, row.id]),
    );
    const found: { id: string; code: string }[] = [];
    const missing: string[] = [];
    for (const code of wanted) {
      const id = byCode.get(code);
      if (id === undefined) {
        missing.push(code);
      } else {
        found.push({ id, code });
      }
    }
    if (missing.length > 0) {
      throw new UnknownEntitlements(missing);
    }
    return found;
  }

  /** For other modules (policies, licenses): the entitlements among `ids` that exist, by code. */
  async findByIds(ids: string[], tx?: EntityManager): Promise<EntitlementDto[]> {
    if (ids.length === 0) {
      return [];
    }
    return (await this.entitlements.findByIds(tx, [...new Set(ids)])).map(toCatalogItemDto);
  }
}
