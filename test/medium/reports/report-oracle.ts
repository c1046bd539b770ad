import type { Interval } from 'src/modules/reports/report.repository';

/**
 * The bucket an instant falls in, computed independently of PostgreSQL: its local calendar fields in `tz`
 * (Intl), truncated to the interval. Weeks start on Monday, as PostgreSQL's date_trunc('week').
 */
export function localBucketKey(at: Date, interval: Interval, tz: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      // The fall-back hour happens twice: the offset tells its two runs apart.
      timeZoneName: 'longOffset',
    })
      .formatToParts(at)
      .map((part) => [part.type, part.value]),
  ) as Record<'year' | 'month' | 'day' | 'hour' | 'timeZoneName', string>;
  switch (interval) {
    case 'hour':
      return `${parts.year}-${parts.month}-${parts.day}T${parts.hour} ${parts.timeZoneName}`;
    case 'day':
      return `${parts.year}-${parts.month}-${parts.day}`;
    case 'month':
      return `${parts.year}-${parts.month}`;
    case 'week': {
      // The local date as a UTC date, moved back to its Monday.
      const local = new Date(Date.UTC(+parts.year, +parts.month - 1, +parts.day));
      local.setUTCDate(local.getUTCDate() - ((local.getUTCDay() + 6) % 7));
      return `W${local.toISOString().slice(0, 10)}`;
    }
  }
}

/** Counts per bucket key and series of `events`. */
export function expectedBuckets(
  events: ReadonlyArray<{ at: Date; dim: string }>,
  interval: Interval,
  tz: string,
): Map<string, Record<string, number>> {
  const buckets = new Map<string, Record<string, number>>();
  for (const event of events) {
    const key = localBucketKey(event.at, interval, tz);
    const counts = buckets.get(key) ?? {};
    counts[event.dim] = (counts[event.dim] ?? 0) + 1;
    buckets.set(key, counts);
  }
  return buckets;
}
