import { isDeepStrictEqual } from 'node:util';

import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

import { ChangeRecorder } from 'src/modules/audit/change-recorder.service';
import type {
  CreateEntitlementDto,
  EntitlementDto,
  EntitlementListDto,
  EntitlementListQueryDto,
  UpdateEntitlementDto,
} from 'src/modules/entitlements/entitlement.dto';
import type { EntitlementEntity } from 'src/modules/entitlements/entitlement.entity';
import {
  EntitlementNotFound,
  UnknownEntitlements,
} from 'src/modules/entitlements/entitlement.errors';
import { EntitlementRepository } from 'src/modules/entitlements/entitlement.repository';
import type { Actor } from 'src/platform/auth/actor';
import { Transactions } from 'src/platform/database/transaction';
import { StaleVersion } from 'src/platform/http/etag';
import { afterIdOf, page } from 'src/platform/http/pagination';

/** The features policies and licenses grant, by code. */
@Injectable()
export class EntitlementService {
  constructor(
    private readonly entitlements: EntitlementRepository,
    private readonly transactions: Transactions,
    private readonly changes: ChangeRecorder,
  ) {}

  async create(actor: Actor, input: CreateEntitlementDto): Promise<EntitlementDto> {
    return this.transactions.run(async (tx) => {
      const entitlement = await this.entitlements.create(tx, {
        code: input.code,
        name: input.name.trim(),
        metadata: input.metadata ?? {},
      });
      const dto = toEntitlementDto(entitlement);
      await this.changes.record(tx, actor, {
        action: 'entitlement.created',
        targetType: 'entitlement',
        targetId: entitlement.id,
        after: auditedState(entitlement),
        event: { data: { ...dto } },
      });
      return dto;
    });
  }

  async list(query: EntitlementListQueryDto): Promise<EntitlementListDto> {
    const rows = await this.entitlements.findMany(
      { code: query.code },
      query.limit + 1,
      afterIdOf(query.cursor),
    );
    return page(rows, query.limit, toEntitlementDto, (row) => ({ id: row.id }));
  }

  async get(id: string): Promise<EntitlementDto> {
    return toEntitlementDto(await this.require(undefined, id));
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
    return (await this.entitlements.findByIds(tx, [...new Set(ids)])).map(toEntitlementDto);
  }

  async update(
    actor: Actor,
    id: string,
    version: number,
    changes: UpdateEntitlementDto,
  ): Promise<EntitlementDto> {
    return this.transactions.run(async (tx) => {
      const entitlement = await this.require(tx, id, true);
      if (entitlement.version !== version) {
        throw new StaleVersion();
      }
      const before = auditedState(entitlement);
      const next = {
        name: changes.name?.trim() ?? entitlement.name,
        metadata: changes.metadata ?? entitlement.metadata,
      };
      if (isDeepStrictEqual(next, { name: entitlement.name, metadata: entitlement.metadata })) {
        return toEntitlementDto(entitlement);
      }
      const saved = await this.entitlements.save(tx, Object.assign(entitlement, next));
      const dto = toEntitlementDto(saved);
      await this.changes.record(tx, actor, {
        action: 'entitlement.updated',
        targetType: 'entitlement',
        targetId: id,
        before,
        after: auditedState(saved),
        event: { data: { ...dto } },
      });
      return dto;
    });
  }

  /** Only entitlements no policy or license grants. */
  async delete(actor: Actor, id: string): Promise<void> {
    await this.transactions.run(async (tx) => {
      const entitlement = await this.require(tx, id, true);
      await this.entitlements.delete(tx, id);
      await this.changes.record(tx, actor, {
        action: 'entitlement.deleted',
        targetType: 'entitlement',
        targetId: id,
        before: auditedState(entitlement),
        after: null,
        event: { data: { ...toEntitlementDto(entitlement) } },
      });
    });
  }

  private async require(
    tx: EntityManager | undefined,
    id: string,
    lock = false,
  ): Promise<EntitlementEntity> {
    const entitlement = await this.entitlements.getById(tx, id, lock);
    if (entitlement === null) {
      throw new EntitlementNotFound();
    }
    return entitlement;
  }
}

function toEntitlementDto(entitlement: EntitlementEntity): EntitlementDto {
  return {
    id: entitlement.id,
    code: entitlement.code,
    name: entitlement.name,
    metadata: entitlement.metadata,
    createdAt: entitlement.createdAt.toISOString(),
    updatedAt: entitlement.updatedAt.toISOString(),
    version: entitlement.version,
  };
}

function auditedState(entitlement: EntitlementEntity): Record<string, unknown> {
  return { code: entitlement.code, name: entitlement.name, metadata: entitlement.metadata };
}
