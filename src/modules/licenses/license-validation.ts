import { LicenseStateRefused } from 'src/modules/licenses/license.errors';

/** A policy that requires heartbeats without saying how often: a machine is dead after 10 minutes. */
export const DEFAULT_HEARTBEAT_SECONDS = 600;

/**
 * The validation decision, as a pure function of what one query returns and the time. The checks run in a
 * fixed, documented order and the first failing one decides the code (docs/licensing.md lists them).
 */
export const VALIDATION_CODES = [
  'NOT_FOUND',
  'REVOKED',
  'SUSPENDED',
  'EXPIRED',
  'OVERDUE',
  'PRODUCT_SCOPE_MISMATCH',
  'NO_MACHINE',
  'NO_MACHINES',
  'FINGERPRINT_SCOPE_MISMATCH',
  'HEARTBEAT_NOT_STARTED',
  'HEARTBEAT_DEAD',
  'ENTITLEMENTS_MISSING',
  'TOO_MANY_MACHINES',
  'VALID',
] as const;
export type ValidationCode = (typeof VALIDATION_CODES)[number];

export type ExpirationStrategy =
  'RESTRICT_ACCESS' | 'REVOKE_ACCESS' | 'MAINTAIN_ACCESS' | 'ALLOW_ACCESS';
export type OverageStrategy =
  'NO_OVERAGE' | 'ALLOW_1_25X' | 'ALLOW_1_5X' | 'ALLOW_2X' | 'ALWAYS_ALLOW';
export type BaseStatus = 'ACTIVE' | 'SUSPENDED' | 'REVOKED';
export type LicenseStatus = 'ACTIVE' | 'EXPIRING' | 'EXPIRED' | 'SUSPENDED' | 'REVOKED';

/** A license is EXPIRING this long before its expiry. */
export const EXPIRING_WINDOW_MS = 3 * 86_400_000;

export interface ValidationSubject {
  status: BaseStatus;
  expiresAt: Date | null;
  lastCheckInAt: Date | null;
  createdAt: Date;
  policy: {
    productId: string;
    productCode: string;
    expirationStrategy: ExpirationStrategy;
    floating: boolean;
    maxMachines: number | null;
    overageStrategy: OverageStrategy;
    requireHeartbeat: boolean;
    heartbeatDurationSeconds: number | null;
    requireCheckIn: boolean;
    checkInIntervalSeconds: number | null;
  };
  maxMachinesOverride: number | null;
  entitlements: readonly string[];
  machineCount: number;
  /** The machine with the scope's fingerprint, when one was given and is activated. */
  machine: { lastHeartbeatAt: Date | null; createdAt: Date } | null;
}

export interface ValidationScope {
  fingerprint?: string;
  /** A product id or code. */
  product?: string;
  entitlements?: readonly string[];
}

export interface ValidationDecision {
  valid: boolean;
  code: ValidationCode;
  detail: string;
}

const fail = (code: ValidationCode, detail: string): ValidationDecision => ({
  valid: false,
  code,
  detail,
});

export function effectiveStatus(
  status: BaseStatus,
  expiresAt: Date | null,
  now: Date,
): LicenseStatus {
  if (status !== 'ACTIVE') {
    return status;
  }
  if (expiresAt === null) {
    return 'ACTIVE';
  }
  const remaining = expiresAt.getTime() - now.getTime();
  return remaining <= 0 ? 'EXPIRED' : remaining <= EXPIRING_WINDOW_MS ? 'EXPIRING' : 'ACTIVE';
}

/** Machines a license may hold: the override or the policy's maximum, stretched by the overage strategy. */
export function machineAllowance(
  maxMachines: number | null,
  overage: OverageStrategy,
  floating: boolean,
): number {
  // A node-locked license without an explicit maximum binds to one machine.
  const base = maxMachines ?? (floating ? Number.POSITIVE_INFINITY : 1);
  switch (overage) {
    case 'NO_OVERAGE':
      return base;
    case 'ALLOW_1_25X':
      return Math.floor(base * 1.25);
    case 'ALLOW_1_5X':
      return Math.floor(base * 1.5);
    case 'ALLOW_2X':
      return base * 2;
    case 'ALWAYS_ALLOW':
      return Number.POSITIVE_INFINITY;
  }
}

/** What the license's own state needs to decide whether it may be used (steps 2 to 5). */
export type LicenseState = Pick<
  ValidationSubject,
  'status' | 'expiresAt' | 'lastCheckInAt' | 'createdAt'
>;
export type LicenseStatePolicy = Pick<
  ValidationSubject['policy'],
  'expirationStrategy' | 'requireCheckIn' | 'checkInIntervalSeconds'
>;
/** The validation codes a license's own state gives, whatever the scope. */
export type StateRefusalCode = 'REVOKED' | 'SUSPENDED' | 'EXPIRED' | 'OVERDUE';

/**
 * Steps 2 to 5 of validation: null when the license's state allows it to be used, else the code validation
 * answers. Check-out and heartbeats refuse with the same code, so nothing keeps a license alive that
 * validation denies.
 */
export function stateRefusal(
  license: LicenseState,
  policy: LicenseStatePolicy,
  now: Date,
): StateRefusalCode | null {
  // Revoked is final; suspended can be reinstated.
  if (license.status === 'REVOKED') {
    return 'REVOKED';
  }
  if (license.status === 'SUSPENDED') {
    return 'SUSPENDED';
  }
  // Past expiry only restricting strategies deny; MAINTAIN and ALLOW keep the license usable.
  if (
    isPastExpiry(license, now) &&
    (policy.expirationStrategy === 'RESTRICT_ACCESS' ||
      policy.expirationStrategy === 'REVOKE_ACCESS')
  ) {
    return 'EXPIRED';
  }
  // A policy requiring check-ins denies a license that missed its interval (counted from creation at first).
  if (policy.requireCheckIn && policy.checkInIntervalSeconds !== null) {
    const since = (license.lastCheckInAt ?? license.createdAt).getTime();
    if (now.getTime() - since > policy.checkInIntervalSeconds * 1000) {
      return 'OVERDUE';
    }
  }
  return null;
}

const STATE_DETAILS: Record<StateRefusalCode, string> = {
  REVOKED: 'The license has been revoked.',
  SUSPENDED: 'The license is suspended.',
  EXPIRED: 'The license has expired.',
  OVERDUE: 'The license is overdue for a check-in.',
};

/**
 * Refuses an action a license's state forbids (see `stateRefusal`) with 422 `LICENSE_<code>`, e.g.
 * `requireUsable(license, policy, now, 'be checked out')`.
 */
export function requireUsable(
  license: LicenseState,
  policy: LicenseStatePolicy,
  now: Date,
  action: string,
): void {
  const code = stateRefusal(license, policy, now);
  if (code !== null) {
    throw new LicenseStateRefused(
      `LICENSE_${code}`,
      `${STATE_DETAILS[code]} It cannot ${action}` +
        (code === 'OVERDUE' ? ' until it checks in.' : '.'),
    );
  }
}

function isPastExpiry(license: { expiresAt: Date | null }, now: Date): boolean {
  return license.expiresAt !== null && license.expiresAt.getTime() <= now.getTime();
}

export function validateLicense(
  license: ValidationSubject | null,
  scope: ValidationScope,
  now: Date,
): ValidationDecision {
  // The key matches no license (or a wrong key: the two are indistinguishable by design).
  if (license === null) {
    return fail('NOT_FOUND', 'No license matches this key.');
  }
  const { policy } = license;
  const refusal = stateRefusal(license, policy, now);
  if (refusal !== null) {
    return fail(refusal, STATE_DETAILS[refusal]);
  }
  if (
    scope.product !== undefined &&
    scope.product !== policy.productId &&
    scope.product !== policy.productCode
  ) {
    return fail('PRODUCT_SCOPE_MISMATCH', 'The license is not for this product.');
  }
  if (scope.fingerprint !== undefined) {
    if (license.machineCount === 0) {
      return policy.floating
        ? fail('NO_MACHINES', 'The license has no activated machines.')
        : fail('NO_MACHINE', 'The license has not been activated on a machine.');
    }
    if (license.machine === null) {
      return fail(
        'FINGERPRINT_SCOPE_MISMATCH',
        'No activated machine of this license has this fingerprint.',
      );
    }
    if (policy.requireHeartbeat) {
      if (license.machine.lastHeartbeatAt === null) {
        return fail('HEARTBEAT_NOT_STARTED', 'The machine has not sent a heartbeat yet.');
      }
      const durationMs = (policy.heartbeatDurationSeconds ?? DEFAULT_HEARTBEAT_SECONDS) * 1000;
      if (now.getTime() - license.machine.lastHeartbeatAt.getTime() > durationMs) {
        return fail('HEARTBEAT_DEAD', 'The machine stopped sending heartbeats.');
      }
    }
  }
  if (scope.entitlements !== undefined && scope.entitlements.length > 0) {
    const held = new Set(license.entitlements);
    const missing = scope.entitlements.filter((code) => !held.has(code));
    if (missing.length > 0) {
      return fail('ENTITLEMENTS_MISSING', `The license lacks: ${missing.join(', ')}.`);
    }
  }
  // More machines than allowed (the limit was lowered after activation, or a policy change).
  const allowance = machineAllowance(
    license.maxMachinesOverride ?? policy.maxMachines,
    policy.overageStrategy,
    policy.floating,
  );
  if (license.machineCount > allowance) {
    return fail(
      'TOO_MANY_MACHINES',
      `The license has ${license.machineCount} machines; it allows ${allowance}.`,
    );
  }
  return {
    valid: true,
    code: 'VALID',
    detail: isPastExpiry(license, now)
      ? 'The license is valid (expired, access maintained).'
      : 'The license is valid.',
  };
}
