interface Entry<K, V> {
  key: K;
  resolve: (value: V | undefined) => void;
  reject: (error: unknown) => void;
}

/**
 * Coalesces concurrent lookups into one query. Lookups requested in the same turn of the event loop are
 * sent together when the loop next checks immediates, so under load each query carries many keys (one
 * round trip, one plan execution, one result to parse) and at rest a lookup waits for nothing but one
 * loop turn. Each caller still gets exactly its own answer or its own failure: a failed batch is retried
 * key by key, so one caller's bad key fails that caller alone.
 */
export class LookupBatcher<K, V> {
  private queue: Array<Entry<K, V>> = [];
  private scheduled = false;

  constructor(
    /** Loads many keys at once; answers by position (`undefined`: no such row). */
    private readonly loadMany: (keys: readonly K[]) => Promise<Array<V | undefined>>,
    private readonly maxBatch = 100,
  ) {}

  load(key: K): Promise<V | undefined> {
    return new Promise((resolve, reject) => {
      this.queue.push({ key, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const queued = this.queue;
    this.queue = [];
    for (let start = 0; start < queued.length; start += this.maxBatch) {
      this.send(queued.slice(start, start + this.maxBatch));
    }
  }

  private send(batch: Array<Entry<K, V>>): void {
    this.loadMany(batch.map((entry) => entry.key)).then(
      (values) => batch.forEach((entry, i) => entry.resolve(values[i])),
      (error: unknown) => {
        if (batch.length === 1) {
          batch[0].reject(error);
          return;
        }
        // One bad key (a value the database refuses) must not fail the callers it happened to share a
        // query with: each entry is retried on its own, so only the bad one fails. A database outage
        // costs one more failed query per entry, bounded by maxBatch and queued by the pool.
        batch.forEach((entry) => this.send([entry]));
      },
    );
  }
}
