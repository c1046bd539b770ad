import { DomainError } from 'src/platform/errors/domain-error';

export class InvalidCredentials extends DomainError {
  readonly code = 'INVALID_CREDENTIALS';
  readonly status = 401;
  constructor() {
    super('The email or password is wrong.');
  }
}

export class TooManyAttempts extends DomainError {
  readonly code = 'TOO_MANY_ATTEMPTS';
  readonly status = 429;
  constructor(retryAfterSeconds: number) {
    super(`Too many failed attempts: try again in ${retryAfterSeconds} s.`, {
      retryAfter: retryAfterSeconds,
    });
  }
}

export class InvalidMfaChallenge extends DomainError {
  readonly code = 'INVALID_MFA_CHALLENGE';
  readonly status = 401;
  constructor() {
    super('The MFA challenge is invalid or expired: log in again.');
  }
}

export class InvalidMfaCode extends DomainError {
  readonly code = 'INVALID_MFA_CODE';
  readonly status = 401;
  constructor() {
    super('The code is wrong, expired, or was already used.');
  }
}

export class InvalidRefreshToken extends DomainError {
  readonly code = 'INVALID_REFRESH_TOKEN';
  readonly status = 401;
  constructor() {
    super('The refresh token is invalid, expired or revoked.');
  }
}

export class RefreshTokenReused extends DomainError {
  readonly code = 'REFRESH_TOKEN_REUSED';
  readonly status = 401;
  constructor() {
    super('This refresh token was already used: the whole session has been revoked. Log in again.');
  }
}

export class MfaAlreadyEnabled extends DomainError {
  readonly code = 'MFA_ALREADY_ENABLED';
  readonly status = 409;
  constructor() {
    super('MFA is already enabled: disable it first to enrol a new authenticator.');
  }
}

export class MfaNotEnabled extends DomainError {
  readonly code = 'MFA_NOT_ENABLED';
  readonly status = 409;
  constructor() {
    super('MFA is not enabled for this admin.');
  }
}

export class NoPendingEnrollment extends DomainError {
  readonly code = 'NO_PENDING_MFA_ENROLLMENT';
  readonly status = 409;
  constructor() {
    super('Start enrolment with POST /v1/auth/mfa/enroll first.');
  }
}

export class WeakPassword extends DomainError {
  readonly code = 'WEAK_PASSWORD';
  readonly status = 422;
  constructor(reason: string) {
    super(`The password ${reason}.`);
  }
}

export class AdminNotFound extends DomainError {
  readonly code = 'ADMIN_NOT_FOUND';
  readonly status = 404;
  constructor() {
    super('No admin with this id.');
  }
}

export class EmailTaken extends DomainError {
  readonly code = 'EMAIL_TAKEN';
  readonly status = 409;
  constructor() {
    super('An admin with this email already exists.');
  }
}

export class LastOwner extends DomainError {
  readonly code = 'LAST_OWNER';
  readonly status = 409;
  constructor() {
    super('This is the last active owner: it cannot be disabled or lose the owner role.');
  }
}

export class RoleEscalation extends DomainError {
  readonly code = 'ROLE_ESCALATION';
  readonly status = 403;
  constructor() {
    super('You cannot grant roles carrying permissions you do not hold yourself.');
  }
}

export class SessionNotFound extends DomainError {
  readonly code = 'SESSION_NOT_FOUND';
  readonly status = 404;
  constructor() {
    super('No active session with this id.');
  }
}

export class SelfModification extends DomainError {
  readonly code = 'SELF_MODIFICATION';
  readonly status = 409;
  constructor(what: string) {
    super(`You cannot ${what} your own account.`);
  }
}
