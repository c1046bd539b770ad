import { DomainError } from 'src/platform/errors/domain-error';

const notFound = (what: string, code: string) =>
  class extends DomainError {
    readonly code = code;
    readonly status = 404;
    constructor() {
      super(`No ${what} with this id.`);
    }
  };

export class PolicyNotFound extends notFound('policy', 'POLICY_NOT_FOUND') {}
export class LicenseNotFound extends notFound('license', 'LICENSE_NOT_FOUND') {}
export class MachineNotFound extends notFound('machine', 'MACHINE_NOT_FOUND') {}
export class CustomerNotFound extends notFound('customer', 'CUSTOMER_NOT_FOUND') {}
export class ProductNotFound extends notFound('product', 'PRODUCT_NOT_FOUND') {}

export class InvalidLicenseState extends DomainError {
  readonly code: string;
  readonly status = 409;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export class TooManyMachines extends DomainError {
  readonly code = 'TOO_MANY_MACHINES';
  readonly status = 422;
  constructor(allowance: number) {
    super(`The license already has the ${allowance} machine(s) it allows.`, { allowance });
  }
}

export class FingerprintTaken extends DomainError {
  readonly code = 'FINGERPRINT_TAKEN';
  readonly status = 409;
  constructor() {
    super('A machine with this fingerprint is already activated for this license.');
  }
}

export class UsageLimitExceeded extends DomainError {
  readonly code = 'USAGE_LIMIT_EXCEEDED';
  readonly status = 422;
  constructor(maxUses: number) {
    super(`The license allows ${maxUses} uses.`, { maxUses });
  }
}

export class PolicyInUse extends DomainError {
  readonly code = 'POLICY_IN_USE';
  readonly status = 409;
  constructor() {
    super('Licenses were issued from this policy: it cannot be deleted.');
  }
}

export class PolicyProductMismatch extends DomainError {
  readonly code = 'POLICY_PRODUCT_MISMATCH';
  readonly status = 422;
  constructor() {
    super('A license can only change to a policy of the same product.');
  }
}

export class InvalidLicenseKey extends DomainError {
  readonly code = 'INVALID_LICENSE_KEY';
  readonly status = 401;
  constructor() {
    super('No license matches this key.');
  }
}
