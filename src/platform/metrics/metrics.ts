import { Inject, Injectable, Logger } from '@nestjs/common';
import type { BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CounterConfiguration, GaugeConfiguration, HistogramConfiguration } from 'prom-client';

import { APP_CONFIG } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';

/** Recomputes some gauges from the database: one cheap aggregate query, never a scan per scrape. */
export type MetricsRefresh = () => Promise<void>;

export interface Increment {
  inc(value?: number): void;
}

/** Seconds-scale latency buckets, from a cached lookup (1 ms) to a stuck dependency (10 s). */
export const LATENCY_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/**
 * Tessera's Prometheus registry: one per application (so the tests can run several in one process), shared
 * by every module. Counters and histograms are updated where things happen, through label children bound
 * once. Gauges that need the database are recomputed every METRICS_REFRESH_SECONDS by the refreshes
 * modules register here, one after the other on one connection, and a scrape only reads the cached values:
 * scrapes cost no queries however often (and from however many Prometheus servers) they come.
 * With metrics off (no METRICS_PORT) the metrics still exist in memory, but nothing is refreshed or served.
 */
@Injectable()
export class Metrics implements OnApplicationBootstrap, BeforeApplicationShutdown {
  readonly registry = new Registry();
  readonly enabled: boolean;
  private readonly logger = new Logger('Metrics');
  private readonly refreshes = new Map<string, MetricsRefresh>();
  private readonly refreshSeconds: number;
  private readonly refreshFailures: Counter<'collector'>;
  private readonly refreshDuration: Gauge<'collector'>;
  private readonly refreshedAt: Gauge<'collector'>;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.enabled = config.metrics.port !== undefined;
    this.refreshSeconds = config.metrics.refreshSeconds;
    this.refreshFailures = this.counter({
      name: 'tessera_metrics_refresh_failures_total',
      help: 'Failed refreshes of database-backed gauges, by collector (the gauges keep their last values).',
      labelNames: ['collector'],
    });
    this.refreshDuration = this.gauge({
      name: 'tessera_metrics_refresh_duration_seconds',
      help: 'Duration of the last refresh of database-backed gauges, by collector.',
      labelNames: ['collector'],
    });
    this.refreshedAt = this.gauge({
      name: 'tessera_metrics_refreshed_timestamp_seconds',
      help: 'Unix time of the last successful refresh, by collector.',
      labelNames: ['collector'],
    });
  }

  counter<L extends string>(config: CounterConfiguration<L>): Counter<L> {
    return new Counter({ ...config, registers: [this.registry] });
  }

  gauge<L extends string>(config: GaugeConfiguration<L>): Gauge<L> {
    return new Gauge({ ...config, registers: [this.registry] });
  }

  histogram<L extends string>(config: HistogramConfiguration<L>): Histogram<L> {
    return new Histogram({ ...config, registers: [this.registry] });
  }

  /**
   * The children of a one-label counter, bound once (the hot path does no label lookup) and exported at 0
   * from the start, so that rate() and increase() see the first event.
   */
  children<V extends string>(counter: Counter<string>, values: readonly V[]): Record<V, Increment> {
    return Object.fromEntries(
      values.map((value) => {
        const child = counter.labels(value);
        child.inc(0);
        return [value, child];
      }),
    ) as Record<V, Increment>;
  }

  /** Adds a refresh of database-backed gauges, run every METRICS_REFRESH_SECONDS while metrics are on. */
  onRefresh(collector: string, refresh: MetricsRefresh): void {
    this.refreshes.set(collector, refresh);
  }

  onApplicationBootstrap(): void {
    if (!this.enabled) {
      return;
    }
    collectDefaultMetrics({ register: this.registry });
    this.timer = setInterval(() => void this.refreshNow(), this.refreshSeconds * 1000);
    this.timer.unref();
    void this.refreshNow();
  }

  /** Stops refreshing before the connection pool closes, and waits for a refresh in progress. */
  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Runs every refresh now (or joins the one running: refreshes never overlap). Never throws. */
  refreshNow(): Promise<void> {
    this.running ??= this.refreshAll().finally(() => (this.running = undefined));
    return this.running;
  }

  /** The exposition: the Prometheus text format. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private async refreshAll(): Promise<void> {
    for (const [collector, refresh] of this.refreshes) {
      const started = performance.now();
      try {
        await refresh();
        this.refreshedAt.labels(collector).set(Date.now() / 1000);
      } catch (error) {
        this.refreshFailures.labels(collector).inc();
        this.logger.warn(
          `refreshing the ${collector} metrics failed: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
      this.refreshDuration.labels(collector).set((performance.now() - started) / 1000);
    }
  }
}
