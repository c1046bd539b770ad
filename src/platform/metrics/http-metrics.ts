import type { FastifyInstance, onResponseHookHandler } from 'fastify';

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
 * Times every response by method, route template and status class; the histogram's `_count` is the
 * request counter. Each route gets its own `onResponse` hook as it is registered (so this must run before
 * any route is), holding its label children bound once: a request costs one observe, without building
 * `request.routeOptions` or looking anything up. Requests that matched no route are caught by one root
 * hook, under the fixed route label `unmatched`.
 */
export function instrumentHttp(fastify: FastifyInstance, metrics: Metrics): void {
  const histogram = metrics.histogram({
    name: 'tessera_http_request_duration_seconds',
    help: 'HTTP requests by method, route template and status class: latency from arrival to the response sent.',
    labelNames: ['method', 'route', 'status_class'],
    buckets: LATENCY_BUCKETS,
  });
  const bind = (method: string, route: string): Observer[] =>
    STATUS_CLASSES.map((statusClass) =>
      histogram.labels({
        method: METHODS.has(method) ? method : 'OTHER',
        route,
        status_class: statusClass,
      }),
    );
  const observe = (children: Observer[], statusCode: number, elapsedMs: number) =>
    children[Math.min(4, Math.max(0, Math.floor(statusCode / 100) - 1))].observe(elapsedMs / 1000);

  fastify.addHook('onRoute', (route) => {
    const methods = [route.method].flat();
    const byMethod = new Map(methods.map((method) => [method, bind(method, route.url)]));
    const only = methods.length === 1 ? byMethod.get(methods[0]) : undefined;
    const hook: onResponseHookHandler = (request, reply, done) => {
      let children = only ?? byMethod.get(request.method);
      if (children === undefined) {
        children = bind(request.method, route.url);
        byMethod.set(request.method, children);
      }
      observe(children, reply.statusCode, reply.elapsedTime);
      done();
    };
    route.onResponse = [...[route.onResponse ?? []].flat(), hook];
  });

  const unmatched = new Map<string, Observer[]>();
  fastify.addHook('onResponse', (request, reply, done) => {
    if (request.is404) {
      // Bounded: Node's HTTP parser accepts only the methods it knows.
      let children = unmatched.get(request.method);
      if (children === undefined) {
        children = bind(request.method, UNMATCHED_ROUTE);
        unmatched.set(request.method, children);
      }
      observe(children, reply.statusCode, reply.elapsedTime);
    }
    done();
  });
}
