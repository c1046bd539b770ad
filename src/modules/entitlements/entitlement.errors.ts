import { DomainError } from 'src/platform/errors/domain-error';

export class EntitlementNotFound extends DomainError {
  readonly code = 'ENTITLEMENT_NOT_FOUND';
  readonly status = 404;
  constructor() {
    super('No entitlement with this id.');
  }
}

export class EntitlementCodeTaken extends DomainError {
  readonly code = 'ENTITLEMENT_CODE_TAKEN';
  readonly status = 409;
  constructor() {
    super('Another entitlement already has this code.');
  }
}

export class EntitlementInUse extends DomainError {
  readonly code = 'ENTITLEMENT_IN_USE';
  readonly status = 409;
  constructor() {
    super('Policies or licenses grant this entitlement: it cannot be deleted.');
  }
}

export class UnknownEntitlements extends DomainError {
  readonly code = 'UNKNOWN_ENTITLEMENTS';
  readonly status = 422;
  constructor(codes: string[]) {
    super(`No entitlement has the code(s): ${codes.join(', ')}.`, { codes });
  }
}
