import { Inject, Injectable } from '@nestjs/common';
import type { CanActivate, ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';

import { APP_CONFIG } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';
import type { Actor } from 'src/platform/auth/actor';
import {
  AdminSessionRequired,
  MfaEnrollmentRequired,
  MfaStepUpRequired,
  PermissionDenied,
  RouteNotDeclared,
} from 'src/platform/auth/auth.errors';
import { REQUIRED_ACCESS } from 'src/platform/auth/authenticated.decorator';
import type {
  AuthenticatedRequest,
  RequiredAccess,
} from 'src/platform/auth/authenticated.decorator';
import { CredentialsResolver, SecurityEvents } from 'src/platform/auth/credentials.port';
import { Clock } from 'src/platform/clock';
import { IS_PUBLIC } from 'src/platform/auth/public.decorator';

/**
 * Deny by default: a route is served only if it is declared `@Public()` or declares the access it needs
 * (`@Authenticated(permission)` / `@AuthenticatedAdmin()`). A route that declares nothing is refused, so a
 * forgotten decorator fails closed. Denied permissions are audited.
 */
@Injectable()
export class AccessGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly credentials: CredentialsResolver,
    private readonly securityEvents: SecurityEvents,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets) === true) {
      return true;
    }
    const access = this.reflector.getAllAndOverride<RequiredAccess | undefined>(
      REQUIRED_ACCESS,
      targets,
    );
    if (access === undefined) {
      throw new RouteNotDeclared();
    }
    const actor = await this.credentials.resolve(context);
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    request.actor = actor;
    await this.authorize(actor, access, request);
    return true;
  }

  private async authorize(
    actor: Actor,
    access: RequiredAccess,
    request: AuthenticatedRequest,
  ): Promise<void> {
    if (actor.mustEnrollMfa === true && access.duringEnrollment !== true) {
      throw new MfaEnrollmentRequired();
    }
    if (access.permission === 'self' || access.mfa === 'recent') {
      if (actor.type !== 'admin') {
        throw new AdminSessionRequired();
      }
    }
    if (access.permission !== 'self' && !actor.permissions.has(access.permission)) {
      await this.securityEvents.permissionDenied(
        actor,
        access.permission,
        `${request.method} ${request.routeOptions.url ?? request.url}`,
      );
      throw new PermissionDenied(access.permission);
    }
    if (access.mfa === 'recent') {
      const windowMs = this.config.auth.stepUpMinutes * 60_000;
      const verifiedAt = actor.mfaVerifiedAt?.getTime();
      if (verifiedAt === undefined || this.clock.now().getTime() - verifiedAt > windowMs) {
        throw new MfaStepUpRequired(this.config.auth.stepUpMinutes);
      }
    }
  }
}
