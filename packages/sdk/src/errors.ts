/** A problem+json answer of the API (RFC 9457), with Tessera's stable `code`. */
export class TesseraApiError extends Error {
  override readonly name = 'TesseraApiError';

  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    /** Validation messages (`VALIDATION_FAILED`), when the server sent them. */
    readonly errors: readonly string[] = [],
    readonly traceId?: string,
    /** Seconds, from `Retry-After` (429). */
    readonly retryAfter?: number,
  ) {
    super(`${status} ${code}: ${detail}`);
  }

  /** Reads a problem document; anything else (a proxy's HTML page) becomes `HTTP_<status>`. */
  static from(response: Response, body: unknown): TesseraApiError {
    const problem = (typeof body === 'object' && body !== null ? body : {}) as Record<
      string,
      unknown
    >;
    const text = (value: unknown): string | undefined =>
      typeof value === 'string' ? value : undefined;
    const retryAfter = Number(response.headers.get('retry-after'));
    return new TesseraApiError(
      response.status,
      text(problem.code) ?? `HTTP_${response.status}`,
      text(problem.detail) ?? text(problem.title) ?? response.statusText,
      Array.isArray(problem.errors) ? problem.errors.filter((e) => typeof e === 'string') : [],
      text(problem.traceId),
      Number.isFinite(retryAfter) && response.headers.has('retry-after') ? retryAfter : undefined,
    );
  }
}

/**
 * An answer that claims to come from Tessera but does not verify: a bad or missing signature, another
 * request's nonce, scope or key. Never treated as a pass, and never answered from the offline cache
 * either (the server was reached, so something between is lying).
 */
export class TesseraSignatureError extends Error {
  override readonly name = 'TesseraSignatureError';
}

/** The server could not be reached (connection refused, DNS, timeout) after the retries. */
export class TesseraNetworkError extends Error {
  override readonly name = 'TesseraNetworkError';
}
