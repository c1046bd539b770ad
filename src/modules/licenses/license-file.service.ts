import { Inject, Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

import { APP_CONFIG } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';
import { ChangeRecorder } from 'src/modules/audit/change-recorder.service';
import { ProductService } from 'src/modules/products/product.service';
import {
  armour,
  LICENSE_FILE_TYP,
  licenseFileClaims,
  licenseFileTtl,
} from 'src/modules/licenses/license-file';
import type { LicenseFileLicense } from 'src/modules/licenses/license-file';
import { canonicalLicenseKey } from 'src/modules/licenses/license-key';
import { effectiveStatus, requireUsable } from 'src/modules/licenses/license-validation';
import type { CheckOutDto, KeyCheckOutDto, LicenseFileDto } from 'src/modules/licenses/license.dto';
import type { LicenseEntity, MachineEntity } from 'src/modules/licenses/license.entity';
import {
  InvalidLicenseKey,
  LicenseKeyMismatch,
  LicenseKeyRequired,
  LicenseKeyUnused,
  LicenseNotFound,
  MachineNotFound,
} from 'src/modules/licenses/license.errors';
import { LicenseRepository } from 'src/modules/licenses/license.repository';
import { MachineRepository } from 'src/modules/licenses/machine.repository';
import { LICENSE_KEY_PURPOSE } from 'src/modules/licenses/license.service';
import { keyHolder } from 'src/modules/licenses/machine-key.service';
import { PolicyService } from 'src/modules/licenses/policy.service';
import { SigningService } from 'src/modules/signing/signing.service';
import type { Actor } from 'src/platform/auth/actor';
import { Clock } from 'src/platform/clock';
import { KeyedHash } from 'src/platform/crypto/keyed-hash';
import { Transactions } from 'src/platform/database/transaction';
import type { RequestMeta } from 'src/platform/http/request-meta';

interface FileRequest {
  ttl?: number;
  /** The license key to encrypt with; undefined: a plain file. */
  encryptWith?: string;
}

/**
 * Check-out: signed license files for offline use (docs/license-file.md). Each file is audited with an
 * outbox event in the same transaction, which also locks the license row so a file is never issued for a
 * license being suspended or revoked at that moment.
 */
@Injectable()
export class LicenseFileService {
  constructor(
    private readonly licenses: LicenseRepository,
    private readonly machines: MachineRepository,
    private readonly policies: PolicyService,
    private readonly products: ProductService,
    private readonly signing: SigningService,
    private readonly transactions: Transactions,
    private readonly changes: ChangeRecorder,
    private readonly hash: KeyedHash,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  checkOutLicense(actor: Actor, licenseId: string, input: CheckOutDto): Promise<LicenseFileDto> {
    return this.transactions.run(async (tx) => {
      const license = await this.lockLicense(tx, licenseId);
      return this.issue(tx, actor, license, null, this.fileRequest(license, input));
    });
  }

  checkOutMachine(actor: Actor, machineId: string, input: CheckOutDto): Promise<LicenseFileDto> {
    return this.transactions.run(async (tx) => {
      const machine = await this.machines.getMachine(tx, machineId);
      if (machine === null) {
        throw new MachineNotFound();
      }
      const license = await this.lockLicense(tx, machine.licenseId);
      return this.issue(tx, actor, license, machine, this.fileRequest(license, input));
    });
  }

  /** For apps in the field: the key is the credential, and with a fingerprint it names the machine. */
  async checkOutByKey(input: KeyCheckOutDto, meta: RequestMeta): Promise<LicenseFileDto> {
    const licenseId = await this.licenses.getLicenseIdByKeyHash(
      this.hash.digest(LICENSE_KEY_PURPOSE, canonicalLicenseKey(input.key)),
    );
    if (licenseId === null) {
      throw new InvalidLicenseKey();
    }
    const request = { ttl: input.ttl, encryptWith: input.encrypt === true ? input.key : undefined };
    return this.transactions.run(async (tx) => {
      const license = await this.lockLicense(tx, licenseId);
      let machine: MachineEntity | null = null;
      if (input.fingerprint !== undefined) {
        machine = await this.machines.getMachineByFingerprint(license.id, input.fingerprint, tx);
        if (machine === null) {
          throw new MachineNotFound();
        }
      }
      return this.issue(tx, keyHolder(meta), license, machine, request);
    });
  }

  private async issue(
    tx: EntityManager,
    actor: Actor,
    license: LicenseEntity,
    machine: MachineEntity | null,
    request: FileRequest,
  ): Promise<LicenseFileDto> {
    const policy = await this.policies.require(tx, license.policyId);
    const now = this.clock.now();
    requireUsable(license, policy, now, 'be checked out');
    const ttl = licenseFileTtl(request.ttl, this.config.signing.licenseFileTtlSeconds, policy);
    const product = await this.products.requireExists(tx, policy.productId);
    const entitlements =
      (await this.licenses.licenseEntitlementCodes(tx, [license.id])).get(license.id) ?? [];
    const content: LicenseFileLicense = {
      id: license.id,
      keyPrefix: license.keyPrefix,
      name: license.name,
      status: effectiveStatus(license.status, license.expiresAt, now),
      expiresAt: license.expiresAt?.toISOString() ?? null,
      customerId: license.customerId,
      entitlements,
      metadata: license.metadata,
      policy: {
        id: policy.id,
        name: policy.name,
        productId: policy.productId,
        product: product.code,
        floating: policy.floating,
        maxMachines: license.maxMachinesOverride ?? policy.maxMachines,
        expirationStrategy: policy.expirationStrategy,
        requireHeartbeat: policy.requireHeartbeat,
        heartbeatDurationSeconds: policy.heartbeatDurationSeconds,
        requireCheckIn: policy.requireCheckIn,
        checkInIntervalSeconds: policy.checkInIntervalSeconds,
      },
      machine: machine === null ? null : { id: machine.id, fingerprint: machine.fingerprint },
    };
    const claims = licenseFileClaims({
      license: content,
      issuedAt: now,
      ttl,
      encryptWith: request.encryptWith,
    });
    const jwt = await this.signing.signJws('license', Buffer.from(JSON.stringify(claims)), {
      typ: LICENSE_FILE_TYP,
    });
    const file: LicenseFileDto = {
      certificate: armour(jwt.compact),
      kid: jwt.kid,
      alg: jwt.alg,
      issuedAt: new Date(claims.iat * 1000).toISOString(),
      expiresAt: new Date(claims.exp * 1000).toISOString(),
      ttl,
      encrypted: claims.enc !== undefined,
    };
    // What was issued, never the file itself: a plain file is readable by whoever holds it.
    const record = {
      licenseId: license.id,
      machineId: machine?.id ?? null,
      jti: claims.jti,
      kid: file.kid,
      alg: file.alg,
      issuedAt: file.issuedAt,
      expiresAt: file.expiresAt,
      ttl,
      encrypted: file.encrypted,
    };
    const action = machine === null ? 'license.checked-out' : 'machine.checked-out';
    await this.changes.record(tx, actor, {
      action,
      targetType: machine === null ? 'license' : 'machine',
      targetId: machine?.id ?? license.id,
      metadata: record,
      event: { aggregateType: 'license', aggregateId: license.id, data: record },
    });
    return file;
  }

  private async lockLicense(tx: EntityManager, id: string): Promise<LicenseEntity> {
    const license = await this.licenses.getLicense(tx, id, true);
    if (license === null) {
      throw new LicenseNotFound();
    }
    return license;
  }

  /** Only a hash of the key is stored: encrypting needs the caller to send it, and it must be this license's. */
  private fileRequest(license: LicenseEntity, input: CheckOutDto): FileRequest {
    if (input.encrypt !== true) {
      if (input.key !== undefined) {
        throw new LicenseKeyUnused();
      }
      return { ttl: input.ttl };
    }
    if (input.key === undefined) {
      throw new LicenseKeyRequired();
    }
    if (!this.hash.matches(LICENSE_KEY_PURPOSE, canonicalLicenseKey(input.key), license.keyHash)) {
      throw new LicenseKeyMismatch();
    }
    return { ttl: input.ttl, encryptWith: input.key };
  }
}
