import type { Permission } from 'src/platform/auth/permission';

/** Who is acting: recorded on every audit event and checked by every service. */
export interface Actor {
  readonly type: 'admin' | 'api-key' | 'system' | 'anonymous';
  /** Admin id or API key id; null for the system. */
  readonly id: string | null;
  readonly permissions: ReadonlySet<Permission>;
  /** When MFA was last verified in this session (admins only); drives step-up checks. */
  readonly mfaVerifiedAt?: Date | null;
  /** The session (refresh-token family) of an admin's access token. */
  readonly sessionId?: string;
  /** The admin must enrol in MFA before anything else (an owner requires MFA for all). */
  readonly mustEnrollMfa?: boolean;
  readonly ip?: string;
  readonly userAgent?: string;
  readonly requestId?: string;
}

/** The actor for scheduled jobs and boot-time work. */
export function systemActor(requestId?: string): Actor {
  return { type: 'system', id: null, permissions: new Set(), requestId };
}
