import type { Completion } from 'src/modules/webhooks/webhook-queue.repository';
import type { AttemptResult } from 'src/modules/webhooks/webhook-sender';

/**
 * When to try again. The schedule stretches Svix's over about three days, as Stripe retries: a receiver down
 * for a weekend still gets every event. Each delay is jittered by ±10 % so that the retries of many events
 * that failed together (a receiver outage) do not come back as one burst.
 */
export const RETRY_DELAYS_MS: readonly number[] = [
  5_000, // 5 s
  5 * 60_000, // 5 min
  30 * 60_000, // 30 min
  2 * 3_600_000, // 2 h
  5 * 3_600_000, // 5 h
  10 * 3_600_000, // 10 h
  14 * 3_600_000, // 14 h
  20 * 3_600_000, // 20 h
  24 * 3_600_000, // 24 h
];

/** The first attempt and one per delay: 10 in all, the last about 75.6 h after the first. */
export const MAX_ATTEMPTS = RETRY_DELAYS_MS.length + 1;
export const JITTER = 0.1;
// A receiver cannot push a retry further out than the longest step of the schedule.
const MAX_RETRY_AFTER_MS = 24 * 3_600_000;

export type StatusVerdict = 'delivered' | 'gone' | 'retry';

/** 2xx delivered; 410 Gone means the receiver wants no more (the endpoint is disabled); anything else is retried. */
export function verdictOf(status: number): StatusVerdict {
  if (status >= 200 && status < 300) {
    return 'delivered';
  }
  return status === 410 ? 'gone' : 'retry';
}

/** Only these statuses are asked for a Retry-After by HTTP itself (RFC 9110, RFC 6585). */
export function honoursRetryAfter(status: number): boolean {
  return status === 429 || status === 503;
}

/**
 * The time of the next attempt once `attempts` attempts have failed, or null when the schedule is exhausted.
 * A Retry-After (429/503) later than the scheduled time wins, capped at 24 h; an earlier one does not pull
 * the retry forward, so a receiver cannot make Tessera retry faster than the schedule.
 */
export function nextAttemptAt(
  attempts: number,
  now: Date,
  retryAfterMs: number | null = null,
  random: () => number = Math.random,
): Date | null {
  if (attempts < 1 || attempts >= MAX_ATTEMPTS) {
    return null;
  }
  const base = RETRY_DELAYS_MS[attempts - 1];
  const jittered = base * (1 + (random() * 2 - 1) * JITTER);
  const delay = Math.max(jittered, Math.min(retryAfterMs ?? 0, MAX_RETRY_AFTER_MS));
  return new Date(now.getTime() + Math.round(delay));
}

/** A Retry-After header (delay-seconds or an HTTP-date) as milliseconds from `now`; null if absent or invalid. */
export function parseRetryAfter(header: string | undefined, now: Date): number | null {
  if (header === undefined) {
    return null;
  }
  const value = header.trim();
  if (/^\d{1,10}$/.test(value)) {
    return Number(value) * 1000;
  }
  // An HTTP-date names a weekday and a zone ("Sun, 06 Nov 1994 08:49:37 GMT"); a bare number is not one.
  if (!/^[A-Za-z]{3}, /.test(value)) {
    return null;
  }
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now.getTime());
}

/** The fate of a delivery after attempt number `attempt` ended with `result`, at `now`. */
export function completionOf(result: AttemptResult, attempt: number, now: Date): Completion {
  if (result.errorClass === 'aborted') {
    return { kind: 'released' };
  }
  const status = result.statusCode;
  if (status !== null) {
    const verdict = verdictOf(status);
    if (verdict === 'delivered') {
      return { kind: 'delivered' };
    }
    if (verdict === 'gone') {
      return { kind: 'failed' };
    }
  }
  const retryAfter =
    status !== null && honoursRetryAfter(status) ? parseRetryAfter(result.retryAfter, now) : null;
  const next = nextAttemptAt(attempt, now, retryAfter);
  return next === null ? { kind: 'failed' } : { kind: 'retry', nextAttemptAt: next };
}
