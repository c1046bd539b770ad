import { InvalidReportQuery } from 'src/modules/reports/report.errors';

/**
 * A `from` or `to` parameter as an instant. ISO 8601 admits forms (week and ordinal dates) that Date, and
 * so PostgreSQL's input, cannot read: those are a 400, not a database error.
 */
export function instant(value: string, name: string): Date {
  const time = new Date(value);
  if (Number.isNaN(time.getTime())) {
    throw new InvalidReportQuery(`${name} must be a date-time such as 2026-01-31T12:00:00Z.`);
  }
  return time;
}
