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

/** True when `error` is PostgreSQL's undefined_table (42P01): the schema is not migrated yet. */
export function undefinedTable(error: unknown): boolean {
  return pgErrorOf(error).code === '42P01';
}

/** True when `error` is a unique violation (23505), on `constraint` if one is named. */
export function uniqueViolation(error: unknown, constraint?: string): boolean {
  const { code, constraint: name } = pgErrorOf(error);
  return code === '23505' && (constraint === undefined || name === constraint);
}

/**
 * SQLSTATEs of data exceptions that only a client's value can cause once input is validated: a character
 * the database cannot store (22021 character_not_in_repertoire, 22P05 untranslatable_character), a date
 * or number out of the column's range (22008 datetime_field_overflow, 22003 numeric_value_out_of_range),
 * a value not in the column type's form (22P02 invalid_text_representation).
 */
const CLIENT_DATA_ERRORS = {
  '22021': 'characters',
  '22P05': 'characters',
  '22008': 'value',
  '22003': 'value',
  '22P02': 'value',
} as const;

/** Which kind of client data PostgreSQL refused in `error`, or undefined for any other error. */
export function clientDataError(error: unknown): 'characters' | 'value' | undefined {
  const { code } = pgErrorOf(error);
  return code !== undefined && Object.hasOwn(CLIENT_DATA_ERRORS, code)
    ? CLIENT_DATA_ERRORS[code as keyof typeof CLIENT_DATA_ERRORS]
    : undefined;
}
