import { metricNames } from 'test/support/promql';

describe('metricNames (PromQL metric names, for checking rules and dashboards)', () => {
  it.each([
    ['up', ['up']],
    ['rate(http_requests_total{route="/v1/x", code=~"5.."}[5m])', ['http_requests_total']],
    [
      'histogram_quantile(0.99, sum by (le, route) (rate(lat_seconds_bucket{instance=~"$instance"}[$__rate_interval])))',
      ['lat_seconds_bucket'],
    ],
    [
      'max(a_seconds) > 1.5 * max(b_seconds) + 600 and max(c) > max(d) unless on (job) e offset 5m',
      ['a_seconds', 'b_seconds', 'c', 'd', 'e'],
    ],
    ['time() - max by (collector) (x_timestamp_seconds) > 3e2', ['x_timestamp_seconds']],
    ['absent(tessera_build_info)', ['tessera_build_info']],
    [
      'sum(rate(a_total[5m])) / ignoring (le) group_left (x) sum(b_total) == bool 1',
      ['a_total', 'b_total'],
    ],
    ['topk(10, sum without (instance) (rate(x_count{a="by (y)"}[1m])))', ['x_count']],
  ])('finds the metrics of %s', (expr, expected) => {
    expect(metricNames(expr)).toEqual(expected);
  });
});
