import type { ExecutionContext } from '@nestjs/common';

import type { Actor } from 'src/platform/auth/actor';
import type { Permission } from 'src/platform/auth/permission';

/**
 * Turns a request's credentials into an actor. Platform defines the port; the admins module implements
 * it (access tokens, API keys), so the guard never imports a domain module.
 */
export abstract class CredentialsResolver {
  /** The authenticated actor, or throws a 401 domain error for missing or bad credentials. */
  abstract resolve(context: ExecutionContext): Promise<Actor>;
}

/** Records security events raised by the guard itself (implemented over the audit log). */
export abstract class SecurityEvents {
  abstract permissionDenied(actor: Actor, permission: Permission, route: string): Promise<void>;
}
