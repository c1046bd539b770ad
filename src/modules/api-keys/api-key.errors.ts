import { DomainError } from 'src/platform/errors/domain-error';

export class ApiKeyNotFound extends DomainError {
  readonly code = 'API_KEY_NOT_FOUND';
  readonly status = 404;
  constructor() {
    super('No API key with this id.');
  }
}

export class ApiKeyPermissionEscalation extends DomainError {
  readonly code = 'PERMISSION_ESCALATION';
  readonly status = 403;
  constructor(missing: string[]) {
    super(`An API key cannot hold permissions its creator does not: ${missing.join(', ')}.`, {
      missing,
    });
  }
}

export class InvalidApiKeyExpiry extends DomainError {
  readonly code = 'INVALID_EXPIRY';
  readonly status = 422;
  constructor(maxDays: number) {
    super(`expiresAt must be in the future and at most ${maxDays} days away.`);
  }
}

export class ApiKeyAlreadyRevoked extends DomainError {
  readonly code = 'API_KEY_ALREADY_REVOKED';
  readonly status = 409;
  constructor() {
    super('This API key is already revoked.');
  }
}
