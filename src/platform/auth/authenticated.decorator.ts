import { applyDecorators, createParamDecorator, SetMetadata } from '@nestjs/common';
import type { ExecutionContext } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiExtension,
  ApiForbiddenResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';

import type { Actor } from 'src/platform/auth/actor';
import type { Permission } from 'src/platform/auth/permission';

export const REQUIRED_ACCESS = 'tessera:required-access';

export interface RequiredAccess {
  /** `self`: any authenticated admin acting on their own account (MFA, sessions, profile). */
  readonly permission: Permission | 'self';
  /** 'recent': MFA must have been verified within the step-up window (sensitive operations). */
  readonly mfa?: 'recent';
  /** Reachable while an admin still has to enrol in MFA (when an owner requires it). */
  readonly duringEnrollment?: boolean;
}

function accessDecorators(access: RequiredAccess): MethodDecorator {
  return applyDecorators(
    SetMetadata(REQUIRED_ACCESS, access),
    ApiBearerAuth(),
    ApiExtension('x-permission', access.permission),
    ...(access.mfa === 'recent' ? [ApiExtension('x-mfa', 'recent')] : []),
    ApiUnauthorizedResponse({
      description: 'Missing, invalid or expired credentials (problem+json)',
    }),
    ApiForbiddenResponse({ description: `Requires ${access.permission} (problem+json)` }),
  );
}

/** The route needs an authenticated admin or API key holding `permission` (and, if asked, recent MFA). */
export function Authenticated(
  permission: Permission,
  options: { mfa?: 'recent' } = {},
): MethodDecorator {
  return accessDecorators({ permission, ...options });
}

/** The route acts on the calling admin's own account; API keys are refused. */
export function AuthenticatedAdmin(
  options: { mfa?: 'recent'; duringEnrollment?: boolean } = {},
): MethodDecorator {
  return accessDecorators({ permission: 'self', ...options });
}

export type AuthenticatedRequest = FastifyRequest & { actor?: Actor };

/** The actor the guard authenticated for this request. */
export const CurrentActor = createParamDecorator(
  (_data: unknown, context: ExecutionContext): Actor => {
    const actor = context.switchToHttp().getRequest<AuthenticatedRequest>().actor;
    if (actor === undefined) {
      throw new Error('CurrentActor used on a route without @Authenticated');
    }
    return actor;
  },
);
