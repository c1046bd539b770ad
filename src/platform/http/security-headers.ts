import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

import { CONSOLE_PATH } from 'src/platform/http/console';
import { REQUEST_ID_HEADER } from 'src/platform/http/request-id';
import { activeTraceId } from 'src/platform/telemetry/trace-id';

// API responses are data, never documents: nothing may load, run or frame them.
const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
// The API reference page at /docs runs its own bundled script and styles, from this origin only.
const DOCS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "connect-src 'self'; font-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

// The admin console: its own scripts and styles only, no inline script, data only from this origin's API;
// QR codes are data: images.
const CONSOLE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "font-src 'self'; manifest-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

export const DOCS_PATH = 'docs';
const DOCS_PREFIX = `/${DOCS_PATH}`;

const HSTS = 'max-age=31536000; includeSubDomains';

/** `/docs` and `/docs/...`, not `/docsy`. */
function isUnder(url: string, prefix: string): boolean {
  return url === prefix || url.startsWith(`${prefix}/`);
}

/**
 * Security headers and the request id on every response, set in one hook rather than a plugin chain: it runs
 * on the hot path. HSTS goes only on responses that reach the client over HTTPS (RFC 6797 8.1: never over
 * plain HTTP): Tessera's own TLS, a trusted proxy's `X-Forwarded-Proto: https`, or every response when the
 * operator states that a proxy ends TLS (`alwaysHsts`, TLS_TERMINATED_BY_PROXY).
 */
export function registerResponseHeaders(
  fastify: FastifyInstance,
  options: { alwaysHsts: boolean },
): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    setResponseHeaders(request, reply, options);
    // Remember the trace while its span is active: the access log line is written after it ends.
    (request.raw as { traceId?: string }).traceId = activeTraceId();
    done();
  });
}

/** The headers of every response; also called where Fastify answers before any hook (frameworkErrors). */
export function setResponseHeaders(
  request: FastifyRequest,
  reply: FastifyReply,
  options: { alwaysHsts: boolean },
): void {
  if (options.alwaysHsts || request.protocol === 'https') {
    void reply.header('strict-transport-security', HSTS);
  }
  void reply.headers({
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'content-security-policy': isUnder(request.url, DOCS_PREFIX)
      ? DOCS_CSP
      : isUnder(request.url, CONSOLE_PATH)
        ? CONSOLE_CSP
        : API_CSP,
    [REQUEST_ID_HEADER]: request.id,
  });
}
