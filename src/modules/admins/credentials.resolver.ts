import { Injectable } from '@nestjs/common';
import type { ExecutionContext } from '@nestjs/common';

import { AdminRepository } from 'src/modules/admins/admin.repository';
import { MFA_REQUIRED_SETTING } from 'src/modules/admins/auth.service';
import { JwtAuthGuard } from 'src/modules/admins/jwt.strategy';
import type { AccessClaims } from 'src/modules/admins/token.service';
import { API_KEY_PREFIX, ApiKeyService } from 'src/modules/api-keys/api-key.service';
import { AuditService } from 'src/modules/audit/audit.service';
import type { Actor } from 'src/platform/auth/actor';
import { Unauthenticated } from 'src/platform/auth/auth.errors';
import type { AuthenticatedRequest } from 'src/platform/auth/authenticated.decorator';
import { CredentialsResolver, SecurityEvents } from 'src/platform/auth/credentials.port';
import type { Permission } from 'src/platform/auth/permission';
import { permissionsOf } from 'src/platform/auth/roles';
import { Clock } from 'src/platform/clock';

/**
 * `Authorization: Bearer <token>`: an API key (`tsk_live_…`) or an admin access token (a JWT checked by
 * passport-jwt). For admins the session and account are re-read on every request, so logout, revocation,
 * disabling and role changes take effect at once rather than when the token expires.
 */
@Injectable()
export class BearerCredentialsResolver extends CredentialsResolver {
  constructor(
    private readonly jwtGuard: JwtAuthGuard,
    private readonly admins: AdminRepository,
    private readonly apiKeys: ApiKeyService,
    private readonly clock: Clock,
  ) {
    super();
  }

  async resolve(context: ExecutionContext): Promise<Actor> {
    const request = context
      .switchToHttp()
      .getRequest<AuthenticatedRequest & { user?: AccessClaims }>();
    const header = request.headers.authorization;
    const token = header?.startsWith('Bearer ') === true ? header.slice(7).trim() : undefined;
    if (token === undefined || token === '') {
      throw new Unauthenticated('Send Authorization: Bearer <access token or API key>.');
    }
    const userAgent = request.headers['user-agent']?.slice(0, 512);
    if (token.startsWith(API_KEY_PREFIX)) {
      return this.apiKeys.authenticate(token, request.ip, request.id, userAgent);
    }
    await this.jwtGuard.canActivate(context);
    const claims = request.user;
    const found = claims === undefined ? null : await this.admins.getSessionWithAdmin(claims.sid);
    const now = this.clock.now();
    if (
      claims === undefined ||
      found === null ||
      found.admin.id !== claims.sub ||
      found.admin.status !== 'active' ||
      found.session.revokedAt !== null ||
      found.session.expiresAt.getTime() <= now.getTime()
    ) {
      throw new Unauthenticated();
    }
    const mustEnrollMfa =
      found.admin.mfaEnabledAt === null &&
      (await this.admins.getSetting(MFA_REQUIRED_SETTING, false));
    return {
      type: 'admin',
      id: found.admin.id,
      permissions: permissionsOf(found.admin.roles),
      mfaVerifiedAt: found.session.mfaVerifiedAt,
      sessionId: found.session.id,
      mustEnrollMfa,
      ip: request.ip,
      userAgent,
      requestId: request.id,
    };
  }
}

/** The guard's security events, into the audit log. */
@Injectable()
export class AuditedSecurityEvents extends SecurityEvents {
  constructor(private readonly audit: AuditService) {
    super();
  }

  async permissionDenied(actor: Actor, permission: Permission, route: string): Promise<void> {
    await this.audit.recordAlone(actor, {
      action: 'auth.permission-denied',
      targetType: 'route',
      targetId: null,
      metadata: { permission, route },
    });
  }
}
