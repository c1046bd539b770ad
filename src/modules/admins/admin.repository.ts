import { Injectable } from '@nestjs/common';
import { DataSource, IsNull } from 'typeorm';
import type { EntityManager } from 'typeorm';

import {
  AdminEntity,
  AdminSessionEntity,
  RecoveryCodeEntity,
  RefreshTokenEntity,
  SettingEntity,
} from 'src/modules/admins/admin.entity';
import { Role } from 'src/platform/auth/roles';

export interface SessionWithAdmin {
  session: AdminSessionEntity;
  admin: AdminEntity;
}

/** All of the admins module's SQL: admins, sessions, refresh tokens, recovery codes, throttles, settings. */
@Injectable()
export class AdminRepository {
  constructor(private readonly dataSource: DataSource) {}

  getById(tx: EntityManager | undefined, id: string, lock = false): Promise<AdminEntity | null> {
    const manager = tx ?? this.dataSource.manager;
    return manager.getRepository(AdminEntity).findOne({
      where: { id },
      ...(lock ? { lock: { mode: 'pessimistic_write' as const } } : {}),
    });
  }

  getByEmail(email: string): Promise<AdminEntity | null> {
    return this.dataSource
      .getRepository(AdminEntity)
      .createQueryBuilder('a')
      .where('lower(a.email) = lower(:email)', { email })
      .getOne();
  }

  findMany(limit: number, afterId: string | undefined): Promise<AdminEntity[]> {
    const query = this.dataSource
      .getRepository(AdminEntity)
      .createQueryBuilder('a')
      .orderBy('a.id', 'ASC')
      .take(limit);
    if (afterId !== undefined) {
      query.where('a.id > :afterId', { afterId });
    }
    return query.getMany();
  }

  async create(tx: EntityManager, admin: Partial<AdminEntity>): Promise<AdminEntity> {
    return tx.getRepository(AdminEntity).save(tx.getRepository(AdminEntity).create(admin));
  }

  save(tx: EntityManager, admin: AdminEntity): Promise<AdminEntity> {
    return tx.getRepository(AdminEntity).save(admin);
  }

  /** Active owners other than `exceptId`, locked so two demotions cannot both pass the last-owner check. */
  async otherActiveOwners(tx: EntityManager, exceptId: string): Promise<number> {
    const rows = await tx.query<{ id: string }[]>(
      `SELECT id FROM admins WHERE status = 'active' AND $1 = ANY(roles) AND id <> $2 FOR UPDATE`,
      [Role.Owner, exceptId],
    );
    return rows.length;
  }

  // Sessions and refresh tokens ---------------------------------------------------------------------

  createSession(
    tx: EntityManager,
    session: Partial<AdminSessionEntity>,
  ): Promise<AdminSessionEntity> {
    const repository = tx.getRepository(AdminSessionEntity);
    return repository.save(repository.create(session));
  }

  saveSession(tx: EntityManager, session: AdminSessionEntity): Promise<AdminSessionEntity> {
    return tx.getRepository(AdminSessionEntity).save(session);
  }

  /** The session of an access token with its admin: one query on every authenticated admin request. */
  async getSessionWithAdmin(sessionId: string): Promise<SessionWithAdmin | null> {
    const session = await this.dataSource
      .getRepository(AdminSessionEntity)
      .findOne({ where: { id: sessionId } });
    if (session === null) {
      return null;
    }
    const admin = await this.getById(undefined, session.adminId);
    return admin === null ? null : { session, admin };
  }

  getSession(tx: EntityManager, id: string, lock = false): Promise<AdminSessionEntity | null> {
    return tx.getRepository(AdminSessionEntity).findOne({
      where: { id },
      ...(lock ? { lock: { mode: 'pessimistic_write' as const } } : {}),
    });
  }

  activeSessions(adminId: string, now: Date): Promise<AdminSessionEntity[]> {
    return this.dataSource
      .getRepository(AdminSessionEntity)
      .createQueryBuilder('s')
      .where('s.admin_id = :adminId AND s.revoked_at IS NULL AND s.expires_at > :now', {
        adminId,
        now,
      })
      .orderBy('s.last_used_at', 'DESC')
      .getMany();
  }

  async revokeSessions(
    tx: EntityManager,
    adminId: string,
    reason: string,
    now: Date,
  ): Promise<number> {
    const result = await tx
      .getRepository(AdminSessionEntity)
      .update({ adminId, revokedAt: IsNull() }, { revokedAt: now, revokedReason: reason });
    return result.affected ?? 0;
  }

  addRefreshToken(
    tx: EntityManager,
    sessionId: string,
    tokenHash: string,
  ): Promise<RefreshTokenEntity> {
    const repository = tx.getRepository(RefreshTokenEntity);
    return repository.save(repository.create({ sessionId, tokenHash, usedAt: null }));
  }

  getRefreshTokenForUpdate(
    tx: EntityManager,
    tokenHash: string,
  ): Promise<RefreshTokenEntity | null> {
    return tx
      .getRepository(RefreshTokenEntity)
      .findOne({ where: { tokenHash }, lock: { mode: 'pessimistic_write' } });
  }

  markRefreshTokenUsed(
    tx: EntityManager,
    token: RefreshTokenEntity,
    now: Date,
  ): Promise<RefreshTokenEntity> {
    token.usedAt = now;
    return tx.getRepository(RefreshTokenEntity).save(token);
  }

  // Recovery codes --------------------------------------------------------------------------------------

  async replaceRecoveryCodes(
    tx: EntityManager,
    adminId: string,
    codeHashes: string[],
  ): Promise<void> {
    await tx.getRepository(RecoveryCodeEntity).delete({ adminId });
    await tx
      .getRepository(RecoveryCodeEntity)
      .insert(codeHashes.map((codeHash) => ({ adminId, codeHash, usedAt: null })));
  }

  /** Marks an unused code used; true when it existed. Atomic, so a code works once even under races. */
  async consumeRecoveryCode(
    tx: EntityManager,
    adminId: string,
    codeHash: string,
    now: Date,
  ): Promise<boolean> {
    const result = await tx
      .getRepository(RecoveryCodeEntity)
      .update({ adminId, codeHash, usedAt: IsNull() }, { usedAt: now });
    return (result.affected ?? 0) === 1;
  }

  remainingRecoveryCodes(tx: EntityManager, adminId: string): Promise<number> {
    return tx.getRepository(RecoveryCodeEntity).count({ where: { adminId, usedAt: IsNull() } });
  }

  // Sign-in throttles -----------------------------------------------------------------------------------

  /** Seconds until `key` may try again, or 0. */
  async lockedFor(key: string, now: Date): Promise<number> {
    const rows = await this.dataSource.query<{ locked_until: Date | null }[]>(
      `SELECT locked_until FROM login_throttles WHERE key = $1`,
      [key],
    );
    const until = rows[0]?.locked_until;
    return until === null || until === undefined
      ? 0
      : Math.max(0, Math.ceil((until.getTime() - now.getTime()) / 1000));
  }

  /**
   * Counts a failure and returns the new count; from `threshold` failures on, locks the key for
   * base * 2^(failures - threshold) seconds, capped at one hour (progressive lockout).
   */
  async recordFailure(
    key: string,
    now: Date,
    threshold: number,
    baseSeconds: number,
  ): Promise<number> {
    const rows = await this.dataSource.query<{ failures: number }[]>(
      `INSERT INTO login_throttles (key, failures, updated_at) VALUES ($1, 1, $2)
       ON CONFLICT (key) DO UPDATE SET failures = login_throttles.failures + 1, updated_at = $2
       RETURNING failures`,
      [key, now],
    );
    const failures = rows[0].failures;
    if (failures >= threshold) {
      const seconds = Math.min(3600, baseSeconds * 2 ** (failures - threshold));
      await this.dataSource.query(`UPDATE login_throttles SET locked_until = $2 WHERE key = $1`, [
        key,
        new Date(now.getTime() + seconds * 1000),
      ]);
    }
    return failures;
  }

  async clearFailures(key: string): Promise<void> {
    await this.dataSource.query(`DELETE FROM login_throttles WHERE key = $1`, [key]);
  }

  // Settings --------------------------------------------------------------------------------------------

  async getSetting<T>(key: string, fallback: T): Promise<T> {
    const row = await this.dataSource.getRepository(SettingEntity).findOne({ where: { key } });
    return row === null ? fallback : (row.value as T);
  }

  async setSetting(tx: EntityManager, key: string, value: unknown): Promise<void> {
    await tx.query(
      `INSERT INTO settings (key, value, updated_at) VALUES ($1, $2::jsonb, now())
       ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
      [key, JSON.stringify(value)],
    );
  }
}
