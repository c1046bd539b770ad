import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

import type { AdminEntity } from 'src/modules/admins/admin.entity';
import type { AdminDto, CreateAdminDto } from 'src/modules/admins/admin.dto';
import {
  AdminNotFound,
  EmailTaken,
  LastOwner,
  RoleEscalation,
  SelfModification,
  WeakPassword,
} from 'src/modules/admins/admin.errors';
import { AdminRepository } from 'src/modules/admins/admin.repository';
import { MFA_REQUIRED_SETTING } from 'src/modules/admins/auth.service';
import { hashPassword, passwordWeakness } from 'src/modules/admins/password';
import { ChangeRecorder } from 'src/modules/audit/change-recorder.service';
import type { Actor } from 'src/platform/auth/actor';
import { isGranted, permissionsOf, Role } from 'src/platform/auth/roles';
import { Clock } from 'src/platform/clock';
import { Transactions } from 'src/platform/database/transaction';
import { uniqueViolation } from 'src/platform/database/pg-errors';
import { StaleVersion } from 'src/platform/http/etag';
import { afterIdOf, page } from 'src/platform/http/pagination';

/** Admin accounts: creation, profile, roles, disabling. Admins are never deleted (the audit log names them). */
@Injectable()
export class AdminService {
  constructor(
    private readonly admins: AdminRepository,
    private readonly transactions: Transactions,
    private readonly changes: ChangeRecorder,
    private readonly clock: Clock,
  ) {}

  /** Used by the API (actor = an admin) and by the bootstrap CLI (actor = system, no escalation check). */
  async create(actor: Actor, input: CreateAdminDto): Promise<AdminDto> {
    const roles = [...new Set(input.roles)].sort();
    if (actor.type !== 'system' && !isGranted(permissionsOf(roles), actor.permissions)) {
      throw new RoleEscalation();
    }
    const weakness = passwordWeakness(input.password, input.email);
    if (weakness !== null) {
      throw new WeakPassword(weakness);
    }
    if ((await this.admins.getByEmail(input.email)) !== null) {
      throw new EmailTaken();
    }
    const passwordHash = await hashPassword(input.password);
    try {
      return await this.transactions.run(async (tx) => {
        const admin = await this.admins.create(tx, {
          email: input.email.trim(),
          name: input.name.trim(),
          passwordHash,
          status: 'active',
          roles,
          totpSecretSealed: null,
          totpPendingSealed: null,
          mfaEnabledAt: null,
          totpLastTimeStep: null,
        });
        await this.changes.record(tx, actor, {
          action: 'admin.created',
          targetType: 'admin',
          targetId: admin.id,
          after: { email: admin.email, name: admin.name, roles: admin.roles, status: admin.status },
        });
        return toAdminDto(admin);
      });
    } catch (error) {
      // Two creations racing on one email: the unique index decides.
      if (uniqueViolation(error)) {
        throw new EmailTaken();
      }
      throw error;
    }
  }

  async list(limit: number, cursor: string | undefined) {
    const afterId = afterIdOf(cursor);
    const rows = await this.admins.findMany(limit + 1, afterId);
    return page(rows, limit, toAdminDto, (row) => ({ id: row.id }));
  }

  async get(id: string): Promise<AdminDto> {
    return toAdminDto(await this.require(undefined, id));
  }

  async update(
    actor: Actor,
    id: string,
    version: number,
    changes: { name?: string },
  ): Promise<AdminDto> {
    return this.transactions.run(async (tx) => {
      const admin = await this.require(tx, id, true);
      if (admin.version !== version) {
        throw new StaleVersion();
      }
      const before = { name: admin.name };
      if (changes.name !== undefined) {
        admin.name = changes.name.trim();
      }
      const saved = await this.admins.save(tx, admin);
      await this.changes.record(tx, actor, {
        action: 'admin.updated',
        targetType: 'admin',
        targetId: id,
        before,
        after: { name: saved.name },
      });
      return toAdminDto(saved);
    });
  }

  /** Replaces an admin's roles. Nobody grants what they do not hold; the last owner keeps the role. */
  async assignRoles(actor: Actor, id: string, requested: Role[]): Promise<AdminDto> {
    const roles = [...new Set(requested)].sort();
    if (!isGranted(permissionsOf(roles), actor.permissions)) {
      throw new RoleEscalation();
    }
    return this.transactions.run(async (tx) => {
      const admin = await this.require(tx, id, true);
      const losesOwner = admin.roles.includes(Role.Owner) && !roles.includes(Role.Owner);
      if (losesOwner && admin.status === 'active') {
        await this.refuseIfLastOwner(tx, id);
      }
      const before = { roles: admin.roles };
      admin.roles = roles;
      const saved = await this.admins.save(tx, admin);
      await this.changes.record(tx, actor, {
        action: 'admin.roles-changed',
        targetType: 'admin',
        targetId: id,
        before,
        after: { roles },
      });
      return toAdminDto(saved);
    });
  }

  /** Disables (never deletes) an admin and ends all of its sessions. */
  async disable(actor: Actor, id: string): Promise<AdminDto> {
    if (actor.id === id) {
      throw new SelfModification('disable');
    }
    return this.transactions.run(async (tx) => {
      const admin = await this.require(tx, id, true);
      if (admin.status === 'disabled') {
        return toAdminDto(admin);
      }
      if (admin.roles.includes(Role.Owner)) {
        await this.refuseIfLastOwner(tx, id);
      }
      admin.status = 'disabled';
      const saved = await this.admins.save(tx, admin);
      const revoked = await this.admins.revokeSessions(tx, id, 'admin-disabled', this.clock.now());
      await this.changes.record(tx, actor, {
        action: 'admin.disabled',
        targetType: 'admin',
        targetId: id,
        before: { status: 'active' },
        after: { status: 'disabled' },
        metadata: { sessionsRevoked: revoked },
      });
      return toAdminDto(saved);
    });
  }

  async enable(actor: Actor, id: string): Promise<AdminDto> {
    return this.transactions.run(async (tx) => {
      const admin = await this.require(tx, id, true);
      if (admin.status === 'active') {
        return toAdminDto(admin);
      }
      admin.status = 'active';
      const saved = await this.admins.save(tx, admin);
      await this.changes.record(tx, actor, {
        action: 'admin.enabled',
        targetType: 'admin',
        targetId: id,
        before: { status: 'disabled' },
        after: { status: 'active' },
      });
      return toAdminDto(saved);
    });
  }

  async mfaRequired(): Promise<boolean> {
    return this.admins.getSetting(MFA_REQUIRED_SETTING, false);
  }

  async setMfaRequired(actor: Actor, required: boolean): Promise<{ required: boolean }> {
    const before = await this.mfaRequired();
    await this.transactions.run(async (tx) => {
      await this.admins.setSetting(tx, MFA_REQUIRED_SETTING, required);
      await this.changes.record(tx, actor, {
        action: 'settings.mfa-policy-changed',
        targetType: 'setting',
        targetId: null,
        before: { required: before },
        after: { required },
      });
    });
    return { required };
  }

  private async require(
    tx: EntityManager | undefined,
    id: string,
    lock = false,
  ): Promise<AdminEntity> {
    const admin = await this.admins.getById(tx, id, lock);
    if (admin === null) {
      throw new AdminNotFound();
    }
    return admin;
  }

  private async refuseIfLastOwner(tx: EntityManager, id: string): Promise<void> {
    if ((await this.admins.otherActiveOwners(tx, id)) === 0) {
      throw new LastOwner();
    }
  }
}

export function toAdminDto(admin: AdminEntity): AdminDto {
  return {
    id: admin.id,
    email: admin.email,
    name: admin.name,
    status: admin.status,
    roles: admin.roles,
    mfaEnabled: admin.mfaEnabledAt !== null,
    createdAt: admin.createdAt.toISOString(),
    updatedAt: admin.updatedAt.toISOString(),
    version: admin.version,
  };
}
