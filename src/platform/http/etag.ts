import { DomainError } from 'src/platform/errors/domain-error';

export class PreconditionRequired extends DomainError {
  readonly code = 'PRECONDITION_REQUIRED';
  readonly status = 428;
  constructor() {
    super('Send If-Match with the ETag of the version you read (optimistic locking).');
  }
}

export class InvalidIfMatch extends DomainError {
  readonly code = 'INVALID_IF_MATCH';
  readonly status = 400;
  constructor() {
    super('If-Match must be an ETag this API returned, e.g. W/"3".');
  }
}

export class StaleVersion extends DomainError {
  readonly code = 'STALE_VERSION';
  readonly status = 412;
  constructor() {
    super('The resource changed since you read it: fetch it again and retry with its new ETag.');
  }
}

/** The ETag of a row version. */
export function etagOf(version: number): string {
  return `W/"${version}"`;
}

/** The row version an If-Match header names; required for PATCH. */
export function versionFromIfMatch(header: string | undefined): number {
  if (header === undefined || header.trim() === '') {
    throw new PreconditionRequired();
  }
  const match = /^(?:W\/)?"(\d{1,10})"$/.exec(header.trim());
  if (match === null) {
    throw new InvalidIfMatch();
  }
  return Number(match[1]);
}
