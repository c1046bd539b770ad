import { TesseraNetworkError } from './errors.js';
import { randomNonce } from './encoding.js';

export type Fetch = (request: Request) => Promise<Response>;

export interface RetryOptions {
  /** Attempts after the first, for network errors and 429/503 answers (default 3). */
  retries?: number;
  /** First backoff in ms, doubled per attempt with full jitter (default 250). */
  baseDelayMs?: number;
  /** Longest wait, also the cap on a server's Retry-After (default 30 s). */
  maxDelayMs?: number;
  /** Time limit of one attempt (default 15 s). */
  timeoutMs?: number;
}

const MUTATIONS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/** Full jitter: a random wait up to the exponential bound, so that clients do not retry in step. */
export function backoff(attempt: number, baseMs: number, maxMs: number): number {
  return Math.random() * Math.min(maxMs, baseMs * 2 ** attempt);
}

/**
 * A fetch that retries safely. A mutation gets one `Idempotency-Key` for all its attempts (unless the caller
 * set one), so a retry after a lost answer replays the stored response instead of acting twice. Retried:
 * network errors and timeouts, 429 (after `Retry-After`) and 503; never other answers.
 */
export function resilientFetch(base: Fetch, options: RetryOptions = {}): Fetch {
  const retries = options.retries ?? 3;
  const baseDelay = options.baseDelayMs ?? 250;
  const maxDelay = options.maxDelayMs ?? 30_000;
  const timeout = options.timeoutMs ?? 15_000;
  return async (original) => {
    const request = original.clone();
    if (MUTATIONS.has(request.method) && !request.headers.has('idempotency-key')) {
      request.headers.set('idempotency-key', `sdk-${randomNonce()}`);
    }
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await base(
          new Request(request.clone(), { signal: AbortSignal.timeout(timeout) }),
        );
      } catch (error) {
        if (attempt >= retries) {
          throw new TesseraNetworkError(
            `${request.method} ${request.url}: ${(error as Error).message}`,
            { cause: error },
          );
        }
        await sleep(backoff(attempt, baseDelay, maxDelay));
        continue;
      }
      if ((response.status !== 429 && response.status !== 503) || attempt >= retries) {
        return response;
      }
      const retryAfter = Number(response.headers.get('retry-after'));
      await response.body?.cancel();
      await sleep(
        Number.isFinite(retryAfter) && retryAfter > 0
          ? Math.min(maxDelay, retryAfter * 1000)
          : backoff(attempt, baseDelay, maxDelay),
      );
    }
  };
}

/** The platform's fetch, as a function of one Request (what openapi-fetch and the SDK call). */
export const platformFetch: Fetch = (request) => globalThis.fetch(request);
