import { Inject, Injectable } from '@nestjs/common';

import { APP_CONFIG } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';
import type { AdminEntity, AdminSessionEntity } from 'src/modules/admins/admin.entity';
import type { LoginResultDto, MfaVerifyDto, SessionDto } from 'src/modules/admins/admin.dto';
import {
  InvalidCredentials,
  InvalidMfaCode,
  InvalidRefreshToken,
  RefreshTokenReused,
  SessionNotFound,
  TooManyAttempts,
  WeakPassword,
} from 'src/modules/admins/admin.errors';
import { AdminRepository } from 'src/modules/admins/admin.repository';
import { AuthMetrics } from 'src/modules/admins/auth.metrics';
import type { SignInStep } from 'src/modules/admins/auth.metrics';
import { MfaService } from 'src/modules/admins/mfa.service';
import {
  decoyPasswordHash,
  hashPassword,
  passwordWeakness,
  verifyPassword,
} from 'src/modules/admins/password';
import { TokenService } from 'src/modules/admins/token.service';
import { AuditService } from 'src/modules/audit/audit.service';
import { ChangeRecorder } from 'src/modules/audit/change-recorder.service';
import type { Actor } from 'src/platform/auth/actor';
import { Clock } from 'src/platform/clock';
import { Transactions } from 'src/platform/database/transaction';
import { KeyedHash, newBearerSecret } from 'src/platform/crypto/keyed-hash';
import type { RequestMeta } from 'src/platform/http/request-meta';

const REFRESH_PREFIX = 'tsr_';
const REFRESH_PURPOSE = 'refresh-token';
export const MFA_REQUIRED_SETTING = 'mfa.required';

/** Sign-in: passwords, MFA challenges, sessions as refresh-token families. */
@Injectable()
export class AuthService {
  constructor(
    private readonly admins: AdminRepository,
    private readonly mfa: MfaService,
    private readonly tokens: TokenService,
    private readonly transactions: Transactions,
    private readonly changes: ChangeRecorder,
    private readonly audit: AuditService,
    private readonly hash: KeyedHash,
    private readonly clock: Clock,
    private readonly metrics: AuthMetrics,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Unknown email and wrong password give the same error after the same work (one argon2 verification),
   * and both count against the email's lockout, so neither timing nor lockout reveals which emails exist.
   */
  async login(email: string, password: string, meta: RequestMeta): Promise<LoginResultDto> {
    const throttleKey = this.hash.digest('login', email.toLowerCase());
    await this.refuseWhileLocked(throttleKey);
    const admin = await this.admins.getByEmail(email);
    const passwordOk = await verifyPassword(
      admin?.passwordHash ?? (await decoyPasswordHash()),
      password,
    );
    if (admin === null || !passwordOk || admin.status !== 'active') {
      await this.recordFailure('password', throttleKey);
      await this.audit.recordAlone(anonymous(meta), {
        action: 'auth.login-failed',
        targetType: 'admin',
        targetId: admin?.id ?? null,
        metadata: {
          email: email.toLowerCase(),
          reason: admin?.status === 'disabled' ? 'disabled' : 'credentials',
        },
      });
      throw new InvalidCredentials();
    }
    await this.admins.clearFailures(throttleKey);
    if (admin.mfaEnabledAt !== null) {
      return { status: 'mfa-required', challengeToken: this.tokens.mfaChallenge(admin.id) };
    }
    const mfaRequired = await this.admins.getSetting(MFA_REQUIRED_SETTING, false);
    const result = await this.startSession(admin, null, meta, 'auth.login-succeeded');
    return { ...result, mfaEnrollmentRequired: mfaRequired };
  }

  /** Exchanges an MFA challenge and a TOTP or recovery code for a session. */
  async verifyMfa(input: MfaVerifyDto, meta: RequestMeta): Promise<LoginResultDto> {
    const adminId = this.tokens.verifyMfaChallenge(input.challengeToken);
    const throttleKey = `mfa:${adminId}`;
    await this.refuseWhileLocked(throttleKey);
    const admin = await this.admins.getById(undefined, adminId);
    if (admin === null || admin.status !== 'active' || admin.mfaEnabledAt === null) {
      throw new InvalidCredentials();
    }
    const accepted = await this.mfa.acceptSecondFactor(admin, input.code, input.recoveryCode);
    if (!accepted) {
      await this.recordFailure('mfa', throttleKey);
      await this.audit.recordAlone(anonymous(meta), {
        action: 'auth.mfa-failed',
        targetType: 'admin',
        targetId: admin.id,
        metadata: { method: input.recoveryCode === undefined ? 'totp' : 'recovery-code' },
      });
      throw new InvalidMfaCode();
    }
    await this.admins.clearFailures(throttleKey);
    return this.startSession(admin, this.clock.now(), meta, 'auth.login-succeeded', {
      mfa: input.recoveryCode === undefined ? 'totp' : 'recovery-code',
    });
  }

  /**
   * Rotates a refresh token. Presenting one that was already exchanged means it leaked (or a client
   * raced itself): the whole session family is revoked and the event audited.
   */
  async refresh(refreshToken: string, meta: RequestMeta): Promise<LoginResultDto> {
    const tokenHash = this.hash.digest(REFRESH_PURPOSE, refreshToken);
    const now = this.clock.now();
    const outcome = await this.transactions.run(async (tx) => {
      const token = await this.admins.getRefreshTokenForUpdate(tx, tokenHash);
      if (token === null) {
        return { kind: 'invalid' as const };
      }
      const session = await this.admins.getSession(tx, token.sessionId, true);
      if (
        session === null ||
        session.revokedAt !== null ||
        session.expiresAt.getTime() <= now.getTime()
      ) {
        return { kind: 'invalid' as const };
      }
      if (token.usedAt !== null) {
        session.revokedAt = now;
        session.revokedReason = 'refresh-token-reuse';
        await this.admins.saveSession(tx, session);
        await this.changes.record(
          tx,
          { ...anonymous(meta), type: 'admin', id: session.adminId },
          {
            action: 'auth.refresh-token-reused',
            targetType: 'admin-session',
            targetId: session.id,
            after: { revokedReason: 'refresh-token-reuse' },
          },
        );
        return { kind: 'reused' as const };
      }
      const admin = await this.admins.getById(tx, session.adminId);
      if (admin === null || admin.status !== 'active') {
        return { kind: 'invalid' as const };
      }
      await this.admins.markRefreshTokenUsed(tx, token, now);
      const next = newBearerSecret(REFRESH_PREFIX);
      await this.admins.addRefreshToken(tx, session.id, this.hash.digest(REFRESH_PURPOSE, next));
      session.lastUsedAt = now;
      await this.admins.saveSession(tx, session);
      return { kind: 'rotated' as const, session, refreshToken: next };
    });
    if (outcome.kind === 'invalid') {
      throw new InvalidRefreshToken();
    }
    if (outcome.kind === 'reused') {
      throw new RefreshTokenReused();
    }
    return {
      status: 'authenticated',
      ...this.tokens.accessToken(outcome.session.adminId, outcome.session.id),
      refreshToken: outcome.refreshToken,
      sessionId: outcome.session.id,
    };
  }

  async logout(actor: Actor): Promise<void> {
    await this.revokeSession(actor, actor.sessionId ?? '', 'logout');
  }

  async sessions(actor: Actor): Promise<SessionDto[]> {
    const sessions = await this.admins.activeSessions(actor.id ?? '', this.clock.now());
    return sessions.map((s) => toSessionDto(s, actor.sessionId));
  }

  async revokeSession(actor: Actor, sessionId: string, reason = 'revoked'): Promise<void> {
    await this.transactions.run(async (tx) => {
      const session = await this.admins.getSession(tx, sessionId, true);
      if (session === null || session.adminId !== actor.id || session.revokedAt !== null) {
        throw new SessionNotFound();
      }
      session.revokedAt = this.clock.now();
      session.revokedReason = reason;
      await this.admins.saveSession(tx, session);
      await this.changes.record(tx, actor, {
        action: reason === 'logout' ? 'auth.logged-out' : 'auth.session-revoked',
        targetType: 'admin-session',
        targetId: session.id,
      });
    });
  }

  /** Changes one's own password; every other session of the admin is revoked. */
  async changePassword(actor: Actor, currentPassword: string, newPassword: string): Promise<void> {
    const admin = await this.admins.getById(undefined, actor.id ?? '');
    if (admin === null || !(await verifyPassword(admin.passwordHash, currentPassword))) {
      throw new InvalidCredentials();
    }
    const weakness = passwordWeakness(newPassword, admin.email);
    if (weakness !== null) {
      throw new WeakPassword(weakness);
    }
    const passwordHash = await hashPassword(newPassword);
    await this.transactions.run(async (tx) => {
      const locked = await this.admins.getById(tx, admin.id, true);
      if (locked === null) {
        throw new InvalidCredentials();
      }
      locked.passwordHash = passwordHash;
      await this.admins.save(tx, locked);
      const now = this.clock.now();
      const others = (await this.admins.activeSessions(admin.id, now)).filter(
        (s) => s.id !== actor.sessionId,
      );
      for (const session of others) {
        session.revokedAt = now;
        session.revokedReason = 'password-changed';
        await this.admins.saveSession(tx, session);
      }
      await this.changes.record(tx, actor, {
        action: 'admin.password-changed',
        targetType: 'admin',
        targetId: admin.id,
        metadata: { sessionsRevoked: others.length },
      });
    });
  }

  private async startSession(
    admin: AdminEntity,
    mfaVerifiedAt: Date | null,
    meta: RequestMeta,
    action: string,
    metadata: Record<string, unknown> = {},
  ): Promise<LoginResultDto> {
    const now = this.clock.now();
    const refreshToken = newBearerSecret(REFRESH_PREFIX);
    const session = await this.transactions.run(async (tx) => {
      const created = await this.admins.createSession(tx, {
        adminId: admin.id,
        lastUsedAt: now,
        expiresAt: new Date(now.getTime() + this.config.auth.refreshTokenTtlDays * 86_400_000),
        mfaVerifiedAt,
        revokedAt: null,
        revokedReason: null,
        ip: meta.ip,
        userAgent: meta.userAgent ?? null,
      });
      await this.admins.addRefreshToken(
        tx,
        created.id,
        this.hash.digest(REFRESH_PURPOSE, refreshToken),
      );
      await this.changes.record(
        tx,
        { ...anonymous(meta), type: 'admin', id: admin.id },
        {
          action,
          targetType: 'admin-session',
          targetId: created.id,
          metadata,
        },
      );
      return created;
    });
    return {
      status: 'authenticated',
      ...this.tokens.accessToken(admin.id, session.id),
      refreshToken,
      sessionId: session.id,
    };
  }

  /** Counts a failure against `key`; from the threshold on, each one starts a (longer) lockout. */
  private async recordFailure(step: SignInStep, key: string): Promise<void> {
    const failures = await this.admins.recordFailure(
      key,
      this.clock.now(),
      this.config.auth.lockoutThreshold,
      this.config.auth.lockoutBaseSeconds,
    );
    this.metrics.failures[step].inc();
    if (failures >= this.config.auth.lockoutThreshold) {
      this.metrics.lockouts[step].inc();
    }
  }

  private async refuseWhileLocked(key: string): Promise<void> {
    const seconds = await this.admins.lockedFor(key, this.clock.now());
    if (seconds > 0) {
      throw new TooManyAttempts(seconds);
    }
  }
}

/** The not-yet-authenticated caller of a sign-in route. */
function anonymous(meta: RequestMeta): Actor {
  return { type: 'anonymous', id: null, permissions: new Set(), ...meta };
}

function toSessionDto(session: AdminSessionEntity, currentId: string | undefined): SessionDto {
  return {
    id: session.id,
    createdAt: session.createdAt.toISOString(),
    lastUsedAt: session.lastUsedAt.toISOString(),
    expiresAt: session.expiresAt.toISOString(),
    mfaVerifiedAt: session.mfaVerifiedAt?.toISOString() ?? null,
    ip: session.ip,
    userAgent: session.userAgent,
    current: session.id === currentId,
  };
}
