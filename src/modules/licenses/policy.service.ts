import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

import { EntitlementService } from 'src/modules/entitlements/entitlement.service';
import { ChangeRecorder } from 'src/modules/audit/change-recorder.service';
import type { CreatePolicyDto, PolicyDto } from 'src/modules/licenses/license.dto';
import { touch } from 'src/modules/licenses/license.entity';
import type { PolicyEntity } from 'src/modules/licenses/license.entity';
import { PolicyInUse, PolicyNotFound } from 'src/modules/licenses/license.errors';
import { PolicyRepository } from 'src/modules/licenses/policy.repository';
import type { Actor } from 'src/platform/auth/actor';
import { foreignKeyViolation } from 'src/platform/database/pg-errors';
import { Transactions } from 'src/platform/database/transaction';
import { Clock } from 'src/platform/clock';
import { ProductNotFound } from 'src/platform/errors/not-found';
import { StaleVersion } from 'src/platform/http/etag';
import { afterIdOf, page } from 'src/platform/http/pagination';

/** Policies: the templates (SKUs) licenses are issued from. */
@Injectable()
export class PolicyService {
  constructor(
    private readonly repository: PolicyRepository,
    private readonly entitlements: EntitlementService,
    private readonly transactions: Transactions,
    private readonly changes: ChangeRecorder,
    private readonly clock: Clock,
  ) {}

  async create(actor: Actor, input: CreatePolicyDto): Promise<PolicyDto> {
    const entitlements = await this.entitlements.requireByCodes(input.entitlements ?? []);
    try {
      return await this.transactions.run(async (tx) => {
        const policy = await this.repository.createPolicy(tx, {
          productId: input.productId,
          name: input.name,
          durationSeconds: input.durationSeconds ?? null,
          expirationStrategy: input.expirationStrategy ?? 'RESTRICT_ACCESS',
          floating: input.floating ?? false,
          maxMachines: input.maxMachines ?? null,
          overageStrategy: input.overageStrategy ?? 'NO_OVERAGE',
          requireHeartbeat: input.requireHeartbeat ?? false,
          heartbeatDurationSeconds: input.heartbeatDurationSeconds ?? null,
          requireCheckIn: input.requireCheckIn ?? false,
          checkInIntervalSeconds: input.checkInIntervalSeconds ?? null,
          maxUses: input.maxUses ?? null,
          keyScheme: input.keyScheme ?? 'RANDOM',
          metadata: input.metadata ?? {},
        });
        await this.repository.setPolicyEntitlements(
          tx,
          policy.id,
          entitlements.map((e) => e.id),
        );
        const dto = toPolicyDto(policy, entitlements.map((e) => e.code).sort());
        await this.changes.record(tx, actor, {
          action: 'policy.created',
          targetType: 'policy',
          targetId: dto.id,
          before: null,
          after: { ...dto },
          event: { data: { ...dto } },
        });
        return dto;
      });
    } catch (error) {
      throw foreignKeyViolation(error, 'fk_policies_product') ? new ProductNotFound() : error;
    }
  }

  async get(id: string): Promise<PolicyDto> {
    const policy = await this.repository.getPolicy(undefined, id);
    if (policy === null) {
      throw new PolicyNotFound();
    }
    const codes = await this.repository.policyEntitlementCodes([id]);
    return toPolicyDto(policy, codes.get(id) ?? []);
  }

  async list(limit: number, cursor: string | undefined, productId: string | undefined) {
    const afterId = afterIdOf(cursor);
    const rows = await this.repository.findPolicies(limit + 1, afterId, productId);
    const codes = await this.repository.policyEntitlementCodes(rows.map((r) => r.id));
    return page(
      rows,
      limit,
      (row) => toPolicyDto(row, codes.get(row.id) ?? []),
      (row) => ({ id: row.id }),
    );
  }

  async update(
    actor: Actor,
    id: string,
    version: number,
    input: Partial<CreatePolicyDto>,
  ): Promise<PolicyDto> {
    const entitlements =
      input.entitlements === undefined
        ? undefined
        : await this.entitlements.requireByCodes(input.entitlements);
    return this.transactions.run(async (tx) => {
      // Locked: two updates with the same version must not both pass the check.
      const policy = await this.require(tx, id, true);
      if (policy.version !== version) {
        throw new StaleVersion();
      }
      const before = toPolicyDto(
        policy,
        (await this.repository.policyEntitlementCodes([id])).get(id) ?? [],
      );
      const { entitlements: _codes, productId: _product, ...changes } = input;
      Object.assign(policy, changes);
      if (entitlements !== undefined) {
        // Entitlements live in another table: touch the row so its version (the ETag) moves too.
        touch(policy, this.clock.now());
      }
      const saved = await this.repository.savePolicy(tx, policy);
      if (entitlements !== undefined) {
        await this.repository.setPolicyEntitlements(
          tx,
          id,
          entitlements.map((e) => e.id),
        );
      }
      const after = toPolicyDto(
        saved,
        entitlements?.map((e) => e.code).sort() ?? before.entitlements,
      );
      await this.changes.record(tx, actor, {
        action: 'policy.updated',
        targetType: 'policy',
        targetId: id,
        before: { ...before },
        after: { ...after },
        event: { data: { ...after } },
      });
      return after;
    });
  }

  async delete(actor: Actor, id: string): Promise<void> {
    try {
      await this.transactions.run(async (tx) => {
        const policy = await this.require(tx, id);
        const before = toPolicyDto(policy, []);
        await this.repository.deletePolicy(tx, id);
        await this.changes.record(tx, actor, {
          action: 'policy.deleted',
          targetType: 'policy',
          targetId: id,
          before: { ...before },
          after: null,
          event: { data: { ...before } },
        });
      });
    } catch (error) {
      throw foreignKeyViolation(error, 'fk_licenses_policy') ? new PolicyInUse() : error;
    }
  }

  async require(tx: EntityManager | undefined, id: string, lock = false): Promise<PolicyEntity> {
    const policy = await this.repository.getPolicy(tx, id, lock);
    if (policy === null) {
      throw new PolicyNotFound();
    }
    return policy;
  }
}

export function toPolicyDto(policy: PolicyEntity, entitlements: string[]): PolicyDto {
  return {
    id: policy.id,
    productId: policy.productId,
    name: policy.name,
    durationSeconds: policy.durationSeconds,
    expirationStrategy: policy.expirationStrategy,
    floating: policy.floating,
    maxMachines: policy.maxMachines,
    overageStrategy: policy.overageStrategy,
    requireHeartbeat: policy.requireHeartbeat,
    heartbeatDurationSeconds: policy.heartbeatDurationSeconds,
    requireCheckIn: policy.requireCheckIn,
    checkInIntervalSeconds: policy.checkInIntervalSeconds,
    maxUses: policy.maxUses,
    keyScheme: policy.keyScheme,
    entitlements,
    metadata: policy.metadata,
    createdAt: policy.createdAt.toISOString(),
    version: policy.version,
  };
}
