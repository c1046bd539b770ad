import { USAGE_BUCKET_MS } from 'src/platform/usage/usage-deltas';
import type { UsageDelta } from 'src/platform/usage/usage-deltas';

/** One validation as the validations export keeps it (validation_events). */
export interface ValidationEvent {
  readonly at: Date;
  readonly code: string;
  readonly licenseId: string | null;
  readonly policyId: string | null;
  readonly productId: string | null;
  readonly customerId: string | null;
  readonly fingerprint: string | null;
}

/**
 * Raw validations held between flushes, at most: past it (a flush failing for minutes at thousands of
 * validations a second) raw rows are dropped and counted, while the rollup counts stay exact.
 */
export const MAX_HELD_EVENTS = 200_000;

/**
 * Validations counted in memory between two flushes: the counts per 15-minute bucket, code, policy and
 * customer (a few entries, however many validations), and the raw events when they are kept. Taking it
 * empties it; a failed flush puts what it took back.
 */
export class ValidationTally {
  private counts = new Map<string, { delta: UsageDelta; count: number }>();
  private events: ValidationEvent[] = [];
  private dropped = 0;

  constructor(private readonly keepEvents: boolean) {}

  get size(): number {
    return this.counts.size;
  }

  add(event: ValidationEvent): void {
    const bucket = Math.floor(event.at.getTime() / USAGE_BUCKET_MS) * USAGE_BUCKET_MS;
    this.count(bucket, event.code, event.policyId, event.customerId, 1);
    if (!this.keepEvents) {
      return;
    }
    if (this.events.length < MAX_HELD_EVENTS) {
      this.events.push(event);
    } else {
      this.dropped += 1;
    }
  }

  /** Everything counted so far, leaving the tally empty. */
  take(): { deltas: UsageDelta[]; events: ValidationEvent[]; dropped: number } {
    const taken = {
      deltas: [...this.counts.values()].map(({ delta, count }) => ({ ...delta, count })),
      events: this.events,
      dropped: this.dropped,
    };
    this.counts = new Map();
    this.events = [];
    this.dropped = 0;
    return taken;
  }

  /** Puts back what a failed flush took, merged with what was counted meanwhile. */
  restore(taken: { deltas: UsageDelta[]; events: ValidationEvent[]; dropped: number }): void {
    for (const delta of taken.deltas) {
      this.count(delta.at.getTime(), delta.dim, delta.policyId, delta.customerId, delta.count ?? 1);
    }
    const room = MAX_HELD_EVENTS - this.events.length;
    this.events = [...taken.events.slice(0, room), ...this.events];
    this.dropped += taken.dropped + Math.max(0, taken.events.length - room);
  }

  /** On the hot path: an entry already counted costs a string key and an addition, no allocation. */
  private count(
    bucket: number,
    code: string,
    policyId: string | null,
    customerId: string | null,
    count: number,
  ): void {
    const key = `${bucket}|${code}|${policyId}|${customerId}`;
    const entry = this.counts.get(key);
    if (entry === undefined) {
      const delta: UsageDelta = {
        at: new Date(bucket),
        metric: 'validation',
        dim: code,
        policyId,
        customerId,
      };
      this.counts.set(key, { delta, count });
    } else {
      entry.count += count;
    }
  }
}
