import { Injectable } from '@nestjs/common';
import type { CanActivate, ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';

import { IS_PUBLIC } from 'src/platform/auth/public.decorator';
import { RouteNotDeclared } from 'src/platform/auth/auth.errors';

/**
 * Deny by default: a route is served only if it is declared `@Public()` or declares the permission it needs.
 * A route that declares nothing is refused, so a forgotten decorator fails closed.
 */
@Injectable()
export class AccessGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets) === true) {
      return true;
    }
    throw new RouteNotDeclared();
  }
}
