import { DomainError } from 'src/platform/errors/domain-error';
import { notFound } from 'src/platform/errors/not-found';

export class PolicyNotFound extends notFound('policy', 'POLICY_NOT_FOUND') {}
export class LicenseNotFound extends notFound('license', 'LICENSE_NOT_FOUND') {}
export class MachineNotFound extends notFound('machine', 'MACHINE_NOT_FOUND') {}

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

/**
 * The license's state forbids the action as validation would deny the license (revoked, suspended, expired
 * under a restricting strategy, overdue): a check-out, a heartbeat.
 */
export class LicenseStateRefused extends DomainError {
  readonly code: string;
  readonly status = 422;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export class LicenseFileTtlOutOfRange extends DomainError {
  readonly code: string;
  readonly status = 422;
  constructor(code: string, message: string, extensions: Record<string, unknown> = {}) {
    super(message, extensions);
    this.code = code;
  }
}

export class LicenseKeyRequired extends DomainError {
  readonly code = 'LICENSE_KEY_REQUIRED';
  readonly status = 422;
  constructor() {
    super('An encrypted license file needs the license key (`key`): only its hash is stored.');
  }
}

export class LicenseKeyUnused extends DomainError {
  readonly code = 'LICENSE_KEY_UNUSED';
  readonly status = 422;
  constructor() {
    super('`key` is only used to encrypt the file: send `encrypt: true` with it, or leave it out.');
  }
}

export class LicenseKeyMismatch extends DomainError {
  readonly code = 'LICENSE_KEY_MISMATCH';
  readonly status = 422;
  constructor() {
    super('This is not the key of the license: the file would not decrypt with it.');
  }
}

export class SignedLicenseKeyTooLong extends DomainError {
  readonly code = 'SIGNED_LICENSE_KEY_TOO_LONG';
  readonly status = 422;
  constructor(length: number, max: number) {
    super(
      `The signed key would be ${length} characters (at most ${max}): it embeds every entitlement code; use fewer or the RANDOM scheme.`,
      { length, max },
    );
  }
}
