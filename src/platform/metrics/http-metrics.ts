import type { FastifyInstance } from 'fastify';

import { LATENCY_BUCKETS } from 'src/platform/metrics/metrics';
import type { Metrics } from 'src/platform/metrics/metrics';

/** The route label of requests that matched no route: raw URLs never become labels. */
export const UNMATCHED_ROUTE = 'unmatched';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

interface Observer {
  observe(seconds: number): void;
}

/**
 * Counts and times every response by method, route template (Fastify's `routeOptions.url`, e.g.
 * `/v1/licenses/:id`) and status class. The histogram's `_count` is the request counter. Label children
 * are bound once per (route, method, class), so a request costs two map lookups and one observe.
 */
export function instrumentHttp(fastify: FastifyInstance, metrics: Metrics): void {
  const histogram = metrics.histogram({
    name: 'tessera_http_request_duration_seconds',
    help: 'HTTP requests by method, route template and status class: latency from arrival to the response sent.',
    labelNames: ['method', 'route', 'status_class'],
    buckets: LATENCY_BUCKETS,
  });
  const byRoute = new Map<string, Map<string, Observer[]>>();
  const childFor = (route: string, method: string, statusCode: number): Observer => {
    let byMethod = byRoute.get(route);
    if (byMethod === undefined) {
      byMethod = new Map();
      byRoute.set(route, byMethod);
    }
    let byClass = byMethod.get(method);
    if (byClass === undefined) {
      const label = METHODS.has(method) ? method : 'OTHER';
      byClass = STATUS_CLASSES.map((statusClass) =>
        histogram.labels({ method: label, route, status_class: statusClass }),
      );
      byMethod.set(method, byClass);
    }
    const index = Math.min(4, Math.max(0, Math.floor(statusCode / 100) - 1));
    return byClass[index];
  };
  fastify.addHook('onResponse', (request, reply, done) => {
    childFor(request.routeOptions.url ?? UNMATCHED_ROUTE, request.method, reply.statusCode).observe(
      reply.elapsedTime / 1000,
    );
    done();
  });
}
