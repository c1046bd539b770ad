import { DomainError } from 'src/platform/errors/domain-error';

export class SigningKeyNotFound extends DomainError {
  readonly code = 'SIGNING_KEY_NOT_FOUND';
  readonly status = 404;
  constructor() {
    super('No signing key with this kid.');
  }
}

export class SigningKeyStateConflict extends DomainError {
  readonly code = 'SIGNING_KEY_STATE_CONFLICT';
  readonly status = 409;
  constructor(kid: string, state: string, action: string) {
    super(`Key ${kid} is ${state}: it cannot be ${action}.`, { state });
  }
}

export class SigningAlgorithmNotAllowed extends DomainError {
  readonly code = 'SIGNING_ALGORITHM_NOT_ALLOWED';
  readonly status = 422;
  constructor(purpose: string, algorithm: string) {
    super(
      `${purpose} keys cannot use ${algorithm}: webhook keys are Ed25519 (Standard Webhooks v1a).`,
    );
  }
}

/** No key signs for this purpose (never expected after boot, which creates one per purpose). */
export class NoActiveSigningKey extends DomainError {
  readonly code = 'NO_ACTIVE_SIGNING_KEY';
  readonly status = 503;
  constructor(purpose: string) {
    super(
      `No ACTIVE ${purpose} signing key: activate one (POST /v1/signing-keys/:kid/actions/activate).`,
    );
  }
}

/** The signer (HSM) failed: nothing is sent unsigned; readiness reports the signer down meanwhile. */
export class SignerUnavailable extends DomainError {
  readonly code = 'SIGNER_UNAVAILABLE';
  readonly status = 503;
  constructor() {
    super('The signing service is unavailable; try again shortly.', { retryAfter: 5 });
  }
}
