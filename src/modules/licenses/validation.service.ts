import { createHash } from 'node:crypto';

import { Inject, Injectable, Logger } from '@nestjs/common';
import type { OnModuleDestroy, OnModuleInit } from '@nestjs/common';

import { canonicalLicenseKey } from 'src/modules/licenses/license-key';
import {
  effectiveStatus,
  validateLicense,
  VALIDATION_CODES,
} from 'src/modules/licenses/license-validation';
import type { ValidationResultDto } from 'src/modules/licenses/validation.dto';
import type { ValidateKeyRequest } from 'src/modules/licenses/validation.schema';
import { LicenseMetrics } from 'src/modules/licenses/license.metrics';
import { ValidationRepository } from 'src/modules/licenses/validation.repository';
import { ValidationTally } from 'src/modules/licenses/validation-tally';
import { LICENSE_KEY_PURPOSE } from 'src/modules/licenses/license.service';
import { APP_CONFIG } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';
import { Clock } from 'src/platform/clock';
import { KeyedHash } from 'src/platform/crypto/keyed-hash';

const FLUSH_INTERVAL_MS = 5_000;

/**
 * The hot path: one prepared query, a pure decision, no synchronous write. `last_validated_at` and the
 * reports' counts (ValidationTally) are coalesced in memory and written in one transaction every few
 * seconds (and at shutdown).
 */
@Injectable()
export class ValidationService implements OnModuleInit, OnModuleDestroy {
  /** Every code a validation answers with: the series of the validations report. */
  static readonly CODES: readonly string[] = VALIDATION_CODES;

  private readonly logger = new Logger(ValidationService.name);
  private pending = new Map<string, Date>();
  private readonly tally: ValidationTally | null;
  private flusher: NodeJS.Timeout | undefined;

  constructor(
    private readonly repository: ValidationRepository,
    private readonly hash: KeyedHash,
    private readonly clock: Clock,
    private readonly metrics: LicenseMetrics,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.tally = config.reports.trackValidations
      ? new ValidationTally(config.reports.rawRetentionDays > 0)
      : null;
  }

  onModuleInit(): void {
    this.flusher = setInterval(() => void this.flush(), FLUSH_INTERVAL_MS);
    this.flusher.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.flusher);
    await this.flush();
  }

  async validate(input: ValidateKeyRequest): Promise<ValidationResultDto> {
    const scope = input.scope ?? {};
    // Unknown and wrong keys take the same path (hash, one indexed lookup) and differ only in the code.
    // Signed keys too: only issued keys have a hash, so their signature needs no check here.
    const canonicalKey = canonicalLicenseKey(input.key);
    const keyHash = this.hash.digest(LICENSE_KEY_PURPOSE, canonicalKey);
    const row = await this.repository.findForValidation(keyHash, scope.fingerprint ?? null);
    const now = this.clock.now();
    const decision = validateLicense(row, scope, now);
    this.metrics.validations[decision.code].inc();
    if (row !== null) {
      this.pending.set(row.id, now);
    }
    this.tally?.add({
      at: now,
      code: decision.code,
      licenseId: row?.id ?? null,
      policyId: row?.policyId ?? null,
      productId: row?.policy.productId ?? null,
      customerId: row?.customerId ?? null,
      fingerprint: scope.fingerprint ?? null,
    });
    return {
      valid: decision.valid,
      code: decision.code,
      detail: decision.detail,
      license:
        row === null
          ? null
          : {
              id: row.id,
              status: effectiveStatus(row.status, row.expiresAt, now),
              expiry: row.expiresAt?.toISOString() ?? null,
              entitlements: [...row.entitlements],
              policy: {
                id: row.policyId,
                name: row.policyName,
                productId: row.policy.productId,
                product: row.policy.productCode,
                floating: row.policy.floating,
                maxMachines: row.maxMachinesOverride ?? row.policy.maxMachines,
                expirationStrategy: row.policy.expirationStrategy,
                requireHeartbeat: row.policy.requireHeartbeat,
                requireCheckIn: row.policy.requireCheckIn,
              },
            },
      // What was checked, inside the signed body: a proxy that dropped the scope or swapped the key
      // for another valid one would change these, and the app compares them with what it sent.
      scope: {
        fingerprint: scope.fingerprint ?? null,
        product: scope.product ?? null,
        entitlements: [...(scope.entitlements ?? [])],
      },
      keySha256: createHash('sha256').update(canonicalKey).digest('base64url'),
      nonce: input.nonce ?? null,
      validatedAt: now.toISOString(),
    };
  }

  /** Writes the coalesced validation times and counts; on failure they are kept for the next flush. */
  async flush(): Promise<void> {
    if (this.pending.size === 0 && (this.tally?.size ?? 0) === 0) {
      return;
    }
    const batch = this.pending;
    this.pending = new Map();
    const counted = this.tally?.take() ?? { deltas: [], events: [], dropped: 0 };
    try {
      await this.repository.recordValidations(batch, counted.deltas, counted.events);
      if (counted.dropped > 0) {
        this.logger.warn({
          msg: 'raw validations were dropped while the database was away; their counts are kept',
          dropped: counted.dropped,
        });
      }
    } catch (error) {
      for (const [id, at] of batch) {
        if (!this.pending.has(id)) {
          this.pending.set(id, at);
        }
      }
      this.tally?.restore(counted);
      this.logger.warn({ err: error, msg: 'could not record validations; will retry' });
    }
  }
}
