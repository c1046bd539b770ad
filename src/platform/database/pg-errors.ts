/** SQLSTATE and constraint of a PostgreSQL error, whether TypeORM wrapped it (driverError) or not. */
function pgErrorOf(error: unknown): { code?: string; constraint?: string } {
  const e = error as
    | { code?: string; constraint?: string; driverError?: { code?: string; constraint?: string } }
    | null
    | undefined;
  return {
    code: e?.driverError?.code ?? e?.code,
    constraint: e?.driverError?.constraint ?? e?.constraint,
  };
}

/**
 * True when `error` is PostgreSQL's foreign-key violation, on `constraint` if one is named: 23503 for a
 * missing parent or a NO ACTION reference, 23001 (restrict_violation) for deleting a parent an
 * ON DELETE RESTRICT key still references.
 */
export function foreignKeyViolation(error: unknown, constraint?: string): boolean {
  const { code, constraint: name } = pgErrorOf(error);
  return (
    (code === '23503' || code === '23001') && (constraint === undefined || name === constraint)
  );
}

/** True when `error` is a unique violation (23505), on `constraint` if one is named. */
export function uniqueViolation(error: unknown, constraint?: string): boolean {
  const { code, constraint: name } = pgErrorOf(error);
  return code === '23505' && (constraint === undefined || name === constraint);
}
