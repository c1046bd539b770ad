import { DomainError } from 'src/platform/errors/domain-error';

export class StaleVersion extends DomainError {
  readonly code = 'STALE_VERSION';
  readonly status = 412;
  constructor() {
    super('The resource changed since you read it: fetch it again and retry with its new ETag.');
  }
}

/**
 * True when `error` is PostgreSQL's foreign-key violation on `constraint`: 23503 for a missing parent,
 * 23001 (restrict_violation) for deleting a parent an ON DELETE RESTRICT key still references.
 */
export function foreignKeyViolation(error: unknown, constraint: string): boolean {
  const e = error as {
    code?: string;
    constraint?: string;
    driverError?: { code?: string; constraint?: string };
  };
  const code = e.driverError?.code ?? e.code;
  const name = e.driverError?.constraint ?? e.constraint;
  return (code === '23503' || code === '23001') && name === constraint;
}

/** True when `error` is a unique violation (23505) on `constraint`. */
export function uniqueViolation(error: unknown, constraint: string): boolean {
  const e = error as {
    code?: string;
    constraint?: string;
    driverError?: { code?: string; constraint?: string };
  };
  return (
    (e.driverError?.code ?? e.code) === '23505' &&
    (e.driverError?.constraint ?? e.constraint) === constraint
  );
}
