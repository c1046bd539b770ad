import { DomainError } from 'src/platform/errors/domain-error';

export class RouteNotDeclared extends DomainError {
  readonly code = 'ACCESS_DENIED';
  readonly status = 403;
  constructor() {
    super('This route declares no access rule, so it is closed to everyone.');
  }
}

export class Unauthenticated extends DomainError {
  readonly code = 'UNAUTHENTICATED';
  readonly status = 401;
  constructor(detail = 'Missing, invalid or expired credentials.') {
    super(detail);
  }
}

export class PermissionDenied extends DomainError {
  readonly code = 'PERMISSION_DENIED';
  readonly status = 403;
  constructor(permission: string) {
    super(`This action requires the permission ${permission}.`, { permission });
  }
}

export class MfaStepUpRequired extends DomainError {
  readonly code = 'MFA_STEP_UP_REQUIRED';
  readonly status = 403;
  constructor(minutes: number) {
    super(
      `This operation needs MFA verified within the last ${minutes} minutes: ` +
        'POST /v1/auth/mfa/step-up with a current code, then retry with the new access token.',
    );
  }
}

export class AdminSessionRequired extends DomainError {
  readonly code = 'ADMIN_SESSION_REQUIRED';
  readonly status = 403;
  constructor() {
    super('This operation needs an admin session with MFA; API keys cannot perform it.');
  }
}

export class MfaEnrollmentRequired extends DomainError {
  readonly code = 'MFA_ENROLLMENT_REQUIRED';
  readonly status = 403;
  constructor() {
    super(
      'MFA is required for every admin: enrol with POST /v1/auth/mfa/enroll before doing anything else.',
    );
  }
}
