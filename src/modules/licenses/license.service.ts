import { randomUUID } from 'node:crypto';

import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

import { ChangeRecorder } from 'src/modules/audit/change-recorder.service';
import { EntitlementService } from 'src/modules/entitlements/entitlement.service';
import {
  canonicalLicenseKey,
  licenseKeyPrefix,
  MAX_LICENSE_KEY_LENGTH,
  newLicenseKey,
  SIGNED_KEY_TYP,
  signedKeyPayload,
} from 'src/modules/licenses/license-key';
import { effectiveStatus } from 'src/modules/licenses/license-validation';
import type {
  IssuedLicenseDto,
  IssueLicenseDto,
  LicenseDto,
  UpdateLicenseDto,
} from 'src/modules/licenses/license.dto';
import type { LicenseEntity, PolicyEntity } from 'src/modules/licenses/license.entity';
import {
  InvalidLicenseState,
  LicenseNotFound,
  PolicyProductMismatch,
  SignedLicenseKeyTooLong,
} from 'src/modules/licenses/license.errors';
import { LicenseRepository } from 'src/modules/licenses/license.repository';
import { PolicyRepository } from 'src/modules/licenses/policy.repository';
import { PolicyService } from 'src/modules/licenses/policy.service';
import { SigningService } from 'src/modules/signing/signing.service';
import type { Actor } from 'src/platform/auth/actor';
import { Clock } from 'src/platform/clock';
import { KeyedHash } from 'src/platform/crypto/keyed-hash';
import { foreignKeyViolation } from 'src/platform/database/pg-errors';
import { Transactions } from 'src/platform/database/transaction';
import { licenseUsage } from 'src/platform/usage/usage-deltas';
import type { UsageDelta } from 'src/platform/usage/usage-deltas';
import { CustomerNotFound } from 'src/platform/errors/not-found';
import { StaleVersion } from 'src/platform/http/etag';
import { afterIdOf, page } from 'src/platform/http/pagination';

export const LICENSE_KEY_PURPOSE = 'license-key';

export interface LicenseMutation {
  action: string;
  change: (
    license: LicenseEntity,
    policy: PolicyEntity,
    tx: EntityManager,
  ) => Promise<Record<string, unknown> | void> | Record<string, unknown> | void;
}

/** The lifecycle actions the licenses report counts, by the name of their series. */
const COUNTED_ACTIONS: Readonly<Record<string, string>> = {
  'license.created': 'created',
  'license.suspended': 'suspended',
  'license.reinstated': 'reinstated',
  'license.renewed': 'renewed',
  'license.revoked': 'revoked',
};

function lifecycleUsage(
  action: string,
  license: { policyId: string; customerId: string },
  at: Date,
): UsageDelta[] {
  const dim = COUNTED_ACTIONS[action];
  return dim === undefined ? [] : [licenseUsage('license', dim, license, at)];
}

/**
 * The licenses report reads expiries from licenses.expires_at; a change moving an expiry that has already
 * passed (a renewal after the license lapsed) keeps the lapse counted, where and when it happened.
 */
function undoneExpiry(
  lapsed: { at: Date | null; policyId: string },
  license: { expiresAt: Date | null; customerId: string },
  now: Date,
): UsageDelta[] {
  if (
    lapsed.at === null ||
    lapsed.at > now ||
    lapsed.at.getTime() === license.expiresAt?.getTime()
  ) {
    return [];
  }
  return [
    licenseUsage(
      'license',
      'expired',
      { policyId: lapsed.policyId, customerId: license.customerId },
      lapsed.at,
    ),
  ];
}

/** Issuing licenses and their lifecycle: every action locks the license row, so actions on one license serialise. */
@Injectable()
export class LicenseService {
  constructor(
    private readonly licenses: LicenseRepository,
    private readonly policyRepository: PolicyRepository,
    private readonly policies: PolicyService,
    private readonly entitlements: EntitlementService,
    private readonly transactions: Transactions,
    private readonly changes: ChangeRecorder,
    private readonly hash: KeyedHash,
    private readonly signing: SigningService,
    private readonly clock: Clock,
  ) {}

  keyHash(key: string): string {
    return this.hash.digest(LICENSE_KEY_PURPOSE, canonicalLicenseKey(key));
  }

  async issue(actor: Actor, input: IssueLicenseDto): Promise<IssuedLicenseDto> {
    const extra = await this.entitlements.requireByCodes(input.entitlements ?? []);
    // Chosen here rather than by the database: a signed key embeds the id.
    const id = randomUUID();
    try {
      return await this.transactions.run(async (tx) => {
        const policy = await this.policies.require(tx, input.policyId);
        const now = this.clock.now();
        const expiresAt =
          input.expiresAt !== undefined
            ? new Date(input.expiresAt)
            : policy.durationSeconds === null
              ? null
              : new Date(now.getTime() + policy.durationSeconds * 1000);
        const key =
          policy.keyScheme === 'SIGNED'
            ? await this.signedKey(id, policy, extra, now, expiresAt)
            : newLicenseKey();
        const license = await this.licenses.createLicense(tx, {
          id,
          policyId: policy.id,
          customerId: input.customerId,
          keyHash: this.keyHash(key),
          keyPrefix: licenseKeyPrefix(key),
          name: input.name ?? null,
          status: 'ACTIVE',
          expiresAt,
          maxMachinesOverride: input.maxMachines ?? null,
          maxUsesOverride: input.maxUses ?? null,
          uses: 0,
          // Check-in intervals count from issue.
          lastCheckInAt: now,
          lastValidatedAt: null,
          metadata: input.metadata ?? {},
        });
        if (extra.length > 0) {
          await this.licenses.addLicenseEntitlements(
            tx,
            license.id,
            extra.map((e) => e.id),
          );
        }
        const dto = await this.toDto(tx, license, policy);
        await this.changes.record(tx, actor, {
          action: 'license.created',
          targetType: 'license',
          targetId: dto.id,
          before: null,
          after: { ...dto },
          event: { data: { ...dto } },
          usage: lifecycleUsage('license.created', license, now),
        });
        return { ...dto, key };
      });
    } catch (error) {
      throw foreignKeyViolation(error, 'fk_licenses_customer') ? new CustomerNotFound() : error;
    }
  }

  async get(id: string): Promise<LicenseDto> {
    const license = await this.licenses.getLicense(undefined, id);
    if (license === null) {
      throw new LicenseNotFound();
    }
    return this.toDto(undefined, license, await this.policies.require(undefined, license.policyId));
  }

  async list(
    limit: number,
    cursor: string | undefined,
    filter: { customerId?: string; policyId?: string; status?: string },
  ) {
    const afterId = afterIdOf(cursor);
    const rows = await this.licenses.findLicenses(limit + 1, afterId, filter);
    const visible = rows.slice(0, limit);
    const codes = await this.licenses.licenseEntitlementCodes(
      undefined,
      visible.map((r) => r.id),
    );
    const policies = new Map<string, PolicyEntity>();
    for (const row of visible) {
      if (!policies.has(row.policyId)) {
        policies.set(row.policyId, await this.policies.require(undefined, row.policyId));
      }
    }
    const now = this.clock.now();
    return page(
      rows,
      limit,
      (row) => toLicenseDto(row, policies.get(row.policyId)!, codes.get(row.id) ?? [], now),
      (row) => ({ id: row.id }),
    );
  }

  update(actor: Actor, id: string, version: number, input: UpdateLicenseDto): Promise<LicenseDto> {
    return this.mutate(actor, id, {
      action: 'license.updated',
      change: (license) => {
        if (license.version !== version) {
          throw new StaleVersion();
        }
        if (input.name !== undefined) {
          license.name = input.name;
        }
        if (input.maxMachines !== undefined) {
          license.maxMachinesOverride = input.maxMachines;
        }
        if (input.maxUses !== undefined) {
          license.maxUsesOverride = input.maxUses;
        }
        if (input.metadata !== undefined) {
          license.metadata = input.metadata;
        }
      },
    });
  }

  suspend(actor: Actor, id: string): Promise<LicenseDto> {
    return this.mutate(actor, id, {
      action: 'license.suspended',
      change: (license) => {
        this.requireStatus(
          license,
          'ACTIVE',
          'LICENSE_NOT_ACTIVE',
          'Only an active license can be suspended.',
        );
        license.status = 'SUSPENDED';
      },
    });
  }

  reinstate(actor: Actor, id: string): Promise<LicenseDto> {
    return this.mutate(actor, id, {
      action: 'license.reinstated',
      change: (license) => {
        this.requireStatus(
          license,
          'SUSPENDED',
          'LICENSE_NOT_SUSPENDED',
          'Only a suspended license can be reinstated.',
        );
        license.status = 'ACTIVE';
      },
    });
  }

  revoke(actor: Actor, id: string): Promise<LicenseDto> {
    return this.mutate(actor, id, {
      action: 'license.revoked',
      change: (license) => {
        if (license.status === 'REVOKED') {
          throw new InvalidLicenseState(
            'LICENSE_ALREADY_REVOKED',
            'The license is already revoked.',
          );
        }
        license.status = 'REVOKED';
      },
    });
  }

  /** Extends by the policy's duration, from the current expiry or from now if already expired. */
  renew(actor: Actor, id: string): Promise<LicenseDto> {
    return this.mutate(actor, id, {
      action: 'license.renewed',
      change: (license, policy) => {
        if (license.status === 'REVOKED') {
          throw new InvalidLicenseState('LICENSE_REVOKED', 'A revoked license cannot be renewed.');
        }
        if (policy.durationSeconds === null || license.expiresAt === null) {
          throw new InvalidLicenseState(
            'LICENSE_PERPETUAL',
            'A perpetual license has nothing to renew.',
          );
        }
        const from = Math.max(license.expiresAt.getTime(), this.clock.now().getTime());
        license.expiresAt = new Date(from + policy.durationSeconds * 1000);
      },
    });
  }

  checkIn(actor: Actor, id: string): Promise<LicenseDto> {
    return this.mutate(actor, id, {
      action: 'license.checked-in',
      change: (license) => {
        if (license.status === 'REVOKED') {
          throw new InvalidLicenseState('LICENSE_REVOKED', 'A revoked license cannot check in.');
        }
        license.lastCheckInAt = this.clock.now();
      },
    });
  }

  changePolicy(actor: Actor, id: string, policyId: string): Promise<LicenseDto> {
    return this.mutate(actor, id, {
      action: 'license.policy-changed',
      change: async (license, current, tx) => {
        const next = await this.policies.require(tx, policyId);
        if (next.productId !== current.productId) {
          throw new PolicyProductMismatch();
        }
        license.policyId = next.id;
      },
    });
  }

  /**
   * Loads and locks the license, applies the change, and records it (outbox + audit) in the same
   * transaction. For the other license services too (usage, entitlements).
   */
  mutate(actor: Actor, id: string, mutation: LicenseMutation): Promise<LicenseDto> {
    return this.transactions.run(async (tx) => {
      const license = await this.licenses.getLicense(tx, id, true);
      if (license === null) {
        throw new LicenseNotFound();
      }
      const policy = await this.policies.require(tx, license.policyId);
      const before = await this.toDto(tx, license, policy);
      const lapsed = { at: license.expiresAt, policyId: license.policyId };
      const metadata = (await mutation.change(license, policy, tx)) ?? undefined;
      const saved = await this.licenses.saveLicense(tx, license);
      const now = this.clock.now();
      const after = await this.toDto(tx, saved, await this.policies.require(tx, saved.policyId));
      await this.changes.record(tx, actor, {
        action: mutation.action,
        targetType: 'license',
        targetId: after.id,
        before: { ...before },
        after: { ...after },
        metadata,
        event: { data: { ...after } },
        usage: [
          ...lifecycleUsage(mutation.action, saved, now),
          ...undoneExpiry(lapsed, saved, now),
        ],
      });
      return after;
    });
  }

  /**
   * A SIGNED policy's key: a compact JWS by the license signing key over the license id, expiry and
   * entitlements at issue, so an app can read and check them offline.
   */
  private async signedKey(
    id: string,
    policy: PolicyEntity,
    extra: { code: string }[],
    now: Date,
    expiresAt: Date | null,
  ): Promise<string> {
    const policyCodes = (await this.policyRepository.policyEntitlementCodes([policy.id])).get(
      policy.id,
    );
    const codes = [...(policyCodes ?? []), ...extra.map((e) => e.code)];
    const payload = signedKeyPayload(id, now, expiresAt, codes);
    const { compact: key } = await this.signing.signJws(
      'license',
      Buffer.from(JSON.stringify(payload)),
      { typ: SIGNED_KEY_TYP },
    );
    if (key.length > MAX_LICENSE_KEY_LENGTH) {
      throw new SignedLicenseKeyTooLong(key.length, MAX_LICENSE_KEY_LENGTH);
    }
    return key;
  }

  private requireStatus(
    license: LicenseEntity,
    status: LicenseEntity['status'],
    code: string,
    message: string,
  ): void {
    if (license.status !== status) {
      throw new InvalidLicenseState(code, message);
    }
  }

  private async toDto(
    tx: EntityManager | undefined,
    license: LicenseEntity,
    policy: PolicyEntity,
  ): Promise<LicenseDto> {
    const codes = await this.licenses.licenseEntitlementCodes(tx, [license.id]);
    return toLicenseDto(license, policy, codes.get(license.id) ?? [], this.clock.now());
  }
}

export function toLicenseDto(
  license: LicenseEntity,
  policy: PolicyEntity,
  entitlements: string[],
  now: Date,
): LicenseDto {
  return {
    id: license.id,
    policyId: license.policyId,
    customerId: license.customerId,
    keyPrefix: license.keyPrefix,
    name: license.name,
    status: effectiveStatus(license.status, license.expiresAt, now),
    expiresAt: license.expiresAt?.toISOString() ?? null,
    maxMachines: license.maxMachinesOverride ?? policy.maxMachines,
    maxUses: license.maxUsesOverride ?? policy.maxUses,
    uses: license.uses,
    entitlements,
    lastCheckInAt: license.lastCheckInAt?.toISOString() ?? null,
    lastValidatedAt: license.lastValidatedAt?.toISOString() ?? null,
    metadata: license.metadata,
    createdAt: license.createdAt.toISOString(),
    version: license.version,
  };
}
