import { Metrics } from 'src/platform/metrics/metrics';
import { MetricsServer } from 'src/platform/metrics/metrics.server';
import type { TestApp } from 'test/e2e/test-app';

/** A token for the test apps' metrics listeners (at least 32 bytes). */
export const METRICS_TEST_TOKEN = 'metrics-test-token-0123456789abcdef0123';

/** Environment of a test app with metrics on: a free port on loopback, behind the test token. */
export const METRICS_TEST_ENV = { METRICS_PORT: '0', METRICS_TOKEN: METRICS_TEST_TOKEN };

/** One scrape, parsed: metric families by name with their type, and every sample line. */
export interface Exposition {
  readonly text: string;
  /** `# TYPE` of each family: counter, gauge, histogram, summary. */
  readonly types: Map<string, string>;
  /** Sample name (with _bucket/_sum/_count suffixes) -> label sets and values. */
  readonly samples: Map<string, Array<{ labels: Record<string, string>; value: number }>>;
  /** The value of the one sample `name` whose labels include `labels`; undefined if none. */
  value(name: string, labels?: Record<string, string>): number | undefined;
}

export function metricsUrl(t: TestApp): string {
  const port = t.app.get(MetricsServer, { strict: false }).port();
  if (port === undefined) {
    throw new Error('metrics are off in this test app (no METRICS_PORT)');
  }
  return `http://127.0.0.1:${port}/metrics`;
}

/** Refreshes the database-backed gauges (as the interval would), then scrapes as Prometheus does. */
export async function scrape(t: TestApp, token = METRICS_TEST_TOKEN): Promise<Exposition> {
  await t.app.get(Metrics).refreshNow();
  const response = await fetch(metricsUrl(t), { headers: { authorization: `Bearer ${token}` } });
  if (response.status !== 200) {
    throw new Error(`scrape answered ${response.status}: ${await response.text()}`);
  }
  return parseExposition(await response.text());
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples = new Map<string, Array<{ labels: Record<string, string>; value: number }>>();
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      types.set(name, type);
      continue;
    }
    const match = SAMPLE.exec(line);
    if (match === null) {
      continue;
    }
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(LABEL)) {
      labels[key] = value.replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    const list = samples.get(match[1]) ?? [];
    list.push({ labels, value: Number(match[3]) });
    samples.set(match[1], list);
  }
  return {
    text,
    types,
    samples,
    value(name, labels = {}) {
      const found = (samples.get(name) ?? []).filter((sample) =>
        Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
      );
      if (found.length > 1) {
        throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
      }
      return found[0]?.value;
    },
  };
}
