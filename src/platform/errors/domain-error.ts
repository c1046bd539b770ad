/**
 * A rule of the domain was broken. Services throw these; one filter turns them into problem+json.
 * Subclasses fix `code` (stable, UPPER_SNAKE, part of the API) and `status`.
 */
export abstract class DomainError extends Error {
  abstract readonly code: string;
  abstract readonly status: number;

  constructor(
    message: string,
    /** Extra members of the problem document, e.g. `{ retryAfter: 30 }`. Never secrets. */
    readonly extensions: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}
