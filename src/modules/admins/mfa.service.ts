import { Inject, Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';

import { APP_CONFIG } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';
import type { AdminEntity } from 'src/modules/admins/admin.entity';
import type { MfaEnrollmentDto, RecoveryCodesDto } from 'src/modules/admins/admin.dto';
import {
  AdminNotFound,
  InvalidMfaCode,
  MfaAlreadyEnabled,
  MfaNotEnabled,
  NoPendingEnrollment,
} from 'src/modules/admins/admin.errors';
import { AdminRepository } from 'src/modules/admins/admin.repository';
import { AuthMetrics } from 'src/modules/admins/auth.metrics';
import { acceptTotp, newTotpSecret, totpUri } from 'src/modules/admins/totp';
import { AuditService } from 'src/modules/audit/audit.service';
import { ChangeRecorder } from 'src/modules/audit/change-recorder.service';
import type { Actor } from 'src/platform/auth/actor';
import { Clock } from 'src/platform/clock';
import { Transactions } from 'src/platform/database/transaction';
import { KeyedHash } from 'src/platform/crypto/keyed-hash';
import { SecretBox } from 'src/platform/crypto/secret-box';

const RECOVERY_CODE_COUNT = 10;
const RECOVERY_PURPOSE = 'recovery-code';
// Crockford base32 without look-alikes: typable from a printout.
const RECOVERY_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** TOTP enrolment, second-factor checks, recovery codes and step-up. TOTP secrets are sealed at rest. */
@Injectable()
export class MfaService {
  private readonly box: SecretBox;

  constructor(
    private readonly admins: AdminRepository,
    private readonly transactions: Transactions,
    private readonly changes: ChangeRecorder,
    private readonly audit: AuditService,
    private readonly hash: KeyedHash,
    private readonly clock: Clock,
    private readonly metrics: AuthMetrics,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.box = new SecretBox(config.secrets.encryption, 'totp-secret');
  }

  async enroll(actor: Actor): Promise<MfaEnrollmentDto> {
    const secret = newTotpSecret();
    const admin = await this.transactions.run(async (tx) => {
      const found = await this.lockedAdmin(tx, actor);
      if (found.mfaEnabledAt !== null) {
        throw new MfaAlreadyEnabled();
      }
      found.totpPendingSealed = this.box.seal(secret);
      await this.admins.save(tx, found);
      await this.changes.record(tx, actor, {
        action: 'auth.mfa-enrollment-started',
        targetType: 'admin',
        targetId: found.id,
      });
      return found;
    });
    return { secret, otpauthUri: totpUri(secret, admin.email) };
  }

  /** The first valid code confirms enrolment: MFA is on, recovery codes are issued, the session is verified. */
  async confirm(actor: Actor, code: string): Promise<RecoveryCodesDto> {
    const codes = newRecoveryCodes();
    await this.transactions.run(async (tx) => {
      const admin = await this.lockedAdmin(tx, actor);
      if (admin.mfaEnabledAt !== null) {
        throw new MfaAlreadyEnabled();
      }
      if (admin.totpPendingSealed === null) {
        throw new NoPendingEnrollment();
      }
      const secret = this.box.open(admin.totpPendingSealed).toString();
      const step = await acceptTotp(secret, code, null, this.clock.now());
      if (step === null) {
        throw new InvalidMfaCode();
      }
      admin.totpSecretSealed = admin.totpPendingSealed;
      admin.totpPendingSealed = null;
      admin.totpLastTimeStep = String(step);
      admin.mfaEnabledAt = this.clock.now();
      await this.admins.save(tx, admin);
      await this.admins.replaceRecoveryCodes(
        tx,
        admin.id,
        codes.map((c) => this.recoveryHash(c)),
      );
      await this.markSessionVerified(tx, actor);
      await this.changes.record(tx, actor, {
        action: 'auth.mfa-enabled',
        targetType: 'admin',
        targetId: admin.id,
        before: { mfaEnabled: false },
        after: { mfaEnabled: true },
      });
    });
    return { recoveryCodes: codes };
  }

  /** Turning MFA off needs step-up (checked by the route) and a current code. */
  async disable(actor: Actor, code: string): Promise<void> {
    await this.transactions.run(async (tx) => {
      const admin = await this.lockedAdmin(tx, actor);
      if (admin.mfaEnabledAt === null || admin.totpSecretSealed === null) {
        throw new MfaNotEnabled();
      }
      if ((await this.acceptCode(admin, code)) === null) {
        throw new InvalidMfaCode();
      }
      admin.totpSecretSealed = null;
      admin.totpPendingSealed = null;
      admin.mfaEnabledAt = null;
      await this.admins.save(tx, admin);
      await this.admins.replaceRecoveryCodes(tx, admin.id, []);
      await this.changes.record(tx, actor, {
        action: 'auth.mfa-disabled',
        targetType: 'admin',
        targetId: admin.id,
        before: { mfaEnabled: true },
        after: { mfaEnabled: false },
      });
    });
  }

  async regenerateRecoveryCodes(actor: Actor): Promise<RecoveryCodesDto> {
    const codes = newRecoveryCodes();
    await this.transactions.run(async (tx) => {
      const admin = await this.lockedAdmin(tx, actor);
      if (admin.mfaEnabledAt === null) {
        throw new MfaNotEnabled();
      }
      await this.admins.replaceRecoveryCodes(
        tx,
        admin.id,
        codes.map((c) => this.recoveryHash(c)),
      );
      await this.changes.record(tx, actor, {
        action: 'auth.recovery-codes-regenerated',
        targetType: 'admin',
        targetId: admin.id,
      });
    });
    return { recoveryCodes: codes };
  }

  /** Re-verifies MFA within a session, opening the step-up window for sensitive operations. */
  async stepUp(actor: Actor, code: string): Promise<{ mfaVerifiedAt: string }> {
    return this.transactions.run(async (tx) => {
      const admin = await this.lockedAdmin(tx, actor);
      if (admin.mfaEnabledAt === null) {
        throw new MfaNotEnabled();
      }
      if ((await this.acceptCode(admin, code)) === null) {
        this.metrics.failures['step-up'].inc();
        await this.audit.recordAlone(actor, {
          action: 'auth.mfa-failed',
          targetType: 'admin',
          targetId: admin.id,
          metadata: { method: 'step-up' },
        });
        throw new InvalidMfaCode();
      }
      await this.admins.save(tx, admin);
      const verifiedAt = await this.markSessionVerified(tx, actor);
      await this.changes.record(tx, actor, {
        action: 'auth.mfa-stepped-up',
        targetType: 'admin-session',
        targetId: actor.sessionId ?? null,
      });
      return { mfaVerifiedAt: verifiedAt.toISOString() };
    });
  }

  /**
   * For login: a TOTP code (accepted once; the admin row records its time step) or an unused recovery
   * code (consumed). Persists what it consumed.
   */
  async acceptSecondFactor(
    admin: AdminEntity,
    code?: string,
    recoveryCode?: string,
  ): Promise<boolean> {
    return this.transactions.run(async (tx) => {
      const locked = await this.admins.getById(tx, admin.id, true);
      if (locked === null) {
        return false;
      }
      if (code !== undefined) {
        if ((await this.acceptCode(locked, code)) === null) {
          return false;
        }
        await this.admins.save(tx, locked);
        return true;
      }
      if (recoveryCode !== undefined) {
        const hash = this.recoveryHash(normaliseRecoveryCode(recoveryCode));
        return this.admins.consumeRecoveryCode(tx, admin.id, hash, this.clock.now());
      }
      return false;
    });
  }

  /** Checks a code against the confirmed secret, advancing the replay guard; the caller saves the row. */
  private async acceptCode(admin: AdminEntity, code: string): Promise<number | null> {
    if (admin.totpSecretSealed === null) {
      return null;
    }
    const secret = this.box.open(admin.totpSecretSealed).toString();
    const last = admin.totpLastTimeStep === null ? null : Number(admin.totpLastTimeStep);
    const step = await acceptTotp(secret, code, last, this.clock.now());
    if (step !== null) {
      admin.totpLastTimeStep = String(step);
    }
    return step;
  }

  private async lockedAdmin(
    tx: Parameters<AdminRepository['save']>[0],
    actor: Actor,
  ): Promise<AdminEntity> {
    const admin = await this.admins.getById(tx, actor.id ?? '', true);
    if (admin === null) {
      throw new AdminNotFound();
    }
    return admin;
  }

  private async markSessionVerified(
    tx: Parameters<AdminRepository['save']>[0],
    actor: Actor,
  ): Promise<Date> {
    const now = this.clock.now();
    const session =
      actor.sessionId === undefined
        ? null
        : await this.admins.getSession(tx, actor.sessionId, true);
    if (session !== null) {
      session.mfaVerifiedAt = now;
      await this.admins.saveSession(tx, session);
    }
    return now;
  }

  private recoveryHash(code: string): string {
    return this.hash.digest(RECOVERY_PURPOSE, code);
  }
}

function newRecoveryCodes(): string[] {
  return Array.from({ length: RECOVERY_CODE_COUNT }, () => {
    const bytes = randomBytes(10);
    const chars = [...bytes].map((b) => RECOVERY_ALPHABET[b % 32]).join('');
    return `${chars.slice(0, 5)}-${chars.slice(5)}`;
  });
}

/** Accepts lower case, spaces and a missing dash, as people type codes from paper. */
export function normaliseRecoveryCode(input: string): string {
  const chars = input.toUpperCase().replace(/[^0-9A-Z]/g, '');
  return chars.length === 10 ? `${chars.slice(0, 5)}-${chars.slice(5)}` : chars;
}
