import {
  completionOf,
  MAX_ATTEMPTS,
  nextAttemptAt,
  parseRetryAfter,
  RETRY_DELAYS_MS,
  verdictOf,
} from 'src/modules/webhooks/webhook-schedule';
import type { AttemptResult } from 'src/modules/webhooks/webhook-sender';

const NOW = new Date('2026-11-23T12:00:00.000Z');
const H = 3_600_000;
const middle = () => 0.5; // no jitter
const low = () => 0; // -10 %
const high = () => 0.999999; // +10 %

function result(overrides: Partial<AttemptResult>): AttemptResult {
  return {
    statusCode: 500,
    retryAfter: undefined,
    responseBody: null,
    errorClass: 'http-status',
    error: null,
    durationMs: 3,
    ...overrides,
  };
}

describe('retry schedule', () => {
  it('retries after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h: about three days', () => {
    expect(RETRY_DELAYS_MS).toEqual([
      5_000,
      300_000,
      1_800_000,
      2 * H,
      5 * H,
      10 * H,
      14 * H,
      20 * H,
      24 * H,
    ]);
    expect(MAX_ATTEMPTS).toBe(10);
    const total = RETRY_DELAYS_MS.reduce((sum, d) => sum + d, 0);
    expect(total / H).toBeCloseTo(75.58, 1);
  });

  it('schedules each retry after the failed attempt that precedes it', () => {
    RETRY_DELAYS_MS.forEach((delay, i) => {
      expect(nextAttemptAt(i + 1, NOW, null, middle)!.getTime() - NOW.getTime()).toBe(delay);
    });
  });

  it('jitters every delay by at most ±10 %', () => {
    for (let attempt = 1; attempt < MAX_ATTEMPTS; attempt += 1) {
      const delay = RETRY_DELAYS_MS[attempt - 1];
      const earliest = nextAttemptAt(attempt, NOW, null, low)!.getTime() - NOW.getTime();
      const latest = nextAttemptAt(attempt, NOW, null, high)!.getTime() - NOW.getTime();
      expect(earliest).toBe(Math.round(delay * 0.9));
      expect(latest).toBeLessThanOrEqual(Math.round(delay * 1.1));
      expect(latest).toBeGreaterThan(Math.round(delay * 1.09));
    }
    const spread = new Set(Array.from({ length: 50 }, () => nextAttemptAt(3, NOW)!.getTime()));
    expect(spread.size).toBeGreaterThan(40);
  });

  it('gives up after the tenth attempt', () => {
    expect(nextAttemptAt(9, NOW, null, middle)).not.toBeNull();
    expect(nextAttemptAt(10, NOW, null, middle)).toBeNull();
    expect(nextAttemptAt(11, NOW, null, middle)).toBeNull();
  });

  it('waits for a later Retry-After, never retries earlier for an earlier one, and caps it at 24 h', () => {
    expect(nextAttemptAt(1, NOW, 120_000, middle)!.getTime() - NOW.getTime()).toBe(120_000);
    expect(nextAttemptAt(2, NOW, 1_000, middle)!.getTime() - NOW.getTime()).toBe(300_000);
    expect(nextAttemptAt(1, NOW, 7 * 24 * H, middle)!.getTime() - NOW.getTime()).toBe(24 * H);
  });
});

describe('Retry-After', () => {
  it.each([
    ['120', 120_000],
    [' 0 ', 0],
    ['Mon, 23 Nov 2026 12:05:00 GMT', 300_000],
    ['Mon, 23 Nov 2026 11:00:00 GMT', 0],
    ['soon', null],
    ['-5', null],
    ['1.5', null],
    ['2026-11-23T12:05:00Z', null],
    [undefined, null],
  ])('%j is %j ms', (header, expected) => {
    expect(parseRetryAfter(header, NOW)).toBe(expected);
  });
});

describe('verdicts', () => {
  it.each([
    [200, 'delivered'],
    [204, 'delivered'],
    [299, 'delivered'],
    [301, 'retry'],
    [400, 'retry'],
    [404, 'retry'],
    [410, 'gone'],
    [429, 'retry'],
    [500, 'retry'],
    [503, 'retry'],
  ])('HTTP %i: %s', (status, verdict) => {
    expect(verdictOf(status)).toBe(verdict);
  });

  it('delivers on 2xx, fails at once on 410, retries other failures', () => {
    expect(completionOf(result({ statusCode: 202, errorClass: null }), 1, NOW)).toEqual({
      kind: 'delivered',
    });
    expect(completionOf(result({ statusCode: 410 }), 1, NOW)).toEqual({ kind: 'failed' });
    const retried = completionOf(result({ statusCode: null, errorClass: 'timeout' }), 1, NOW);
    expect(retried.kind).toBe('retry');
    expect(completionOf(result({ statusCode: 500 }), MAX_ATTEMPTS, NOW)).toEqual({
      kind: 'failed',
    });
  });

  it('honours Retry-After on 429 and 503 only', () => {
    const at = (status: number) => {
      const c = completionOf(result({ statusCode: status, retryAfter: '3600' }), 1, NOW);
      return c.kind === 'retry' ? c.nextAttemptAt.getTime() - NOW.getTime() : null;
    };
    expect(at(429)).toBe(3_600_000);
    expect(at(503)).toBe(3_600_000);
    expect(at(500)).toBeLessThanOrEqual(5_500);
  });

  it('puts a delivery aborted by a shutdown back without counting the attempt', () => {
    expect(completionOf(result({ statusCode: null, errorClass: 'aborted' }), 3, NOW)).toEqual({
      kind: 'released',
    });
  });
});
