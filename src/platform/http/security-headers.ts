import type { FastifyInstance } from 'fastify';

import { REQUEST_ID_HEADER } from 'src/platform/http/request-id';
import { activeTraceId } from 'src/platform/telemetry/trace-id';

// API responses are data, never documents: nothing may load, run or frame them.
const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
// The API reference page at /docs runs its own bundled script and styles, from this origin only.
const DOCS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "connect-src 'self'; font-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

export const DOCS_PATH = 'docs';

/** Security headers and the request id on every response, set in one hook rather than a plugin chain: it runs on the hot path. */
export function registerResponseHeaders(fastify: FastifyInstance): void {
  const docsPrefix = `/${DOCS_PATH}`;
  fastify.addHook('onRequest', (request, reply, done) => {
    const isDocs = request.url === docsPrefix || request.url.startsWith(`${docsPrefix}/`);
    void reply.headers({
      'strict-transport-security': 'max-age=31536000; includeSubDomains',
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer',
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-resource-policy': 'same-origin',
      'content-security-policy': isDocs ? DOCS_CSP : API_CSP,
      [REQUEST_ID_HEADER]: request.id,
    });
    // Remember the trace while its span is active: the access log line is written after it ends.
    (request.raw as { traceId?: string }).traceId = activeTraceId();
    done();
  });
}
