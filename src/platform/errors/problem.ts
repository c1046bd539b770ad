import { HttpException } from '@nestjs/common';

import { clientDataError } from 'src/platform/database/pg-errors';
import { DomainError } from 'src/platform/errors/domain-error';

/** An RFC 9457 problem document with Tessera's stable `code`. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  traceId?: string;
  [extension: string]: unknown;
}

const BAD_REQUEST = 400;
const SERVICE_UNAVAILABLE = 503;

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  410: 'Gone',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  428: 'Precondition Required',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Codes for errors raised by Nest or Fastify themselves rather than by Tessera's domain. */
const HTTP_CODES: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  406: 'NOT_ACCEPTABLE',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  422: 'UNPROCESSABLE',
  429: 'RATE_LIMITED',
  503: 'SERVICE_UNAVAILABLE',
};

/** Fastify's own error codes that are a client's fault, with the code Tessera publishes for each. */
const FASTIFY_CODES: Record<string, { status: number; code: string; detail: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: {
    status: 400,
    code: 'MALFORMED_JSON',
    detail: 'The request body is not valid JSON.',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    status: 400,
    code: 'MALFORMED_JSON',
    detail: 'The request declares a JSON body but sends none.',
  },
  FST_ERR_CTP_BODY_TOO_LARGE: {
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
    detail: 'The request body exceeds the size limit.',
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
    detail: 'The request body has a content type this API does not accept; send application/json.',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    status: 400,
    code: 'BAD_REQUEST',
    detail: 'The Content-Length header does not match the body.',
  },
  FST_ERR_CTP_INVALID_TYPE: {
    status: 400,
    code: 'BAD_REQUEST',
    detail: 'The Content-Type header is malformed.',
  },
  // Raised before routing (through the adapter's frameworkErrors), so no route or filter sees them.
  FST_ERR_BAD_URL: {
    status: 400,
    code: 'BAD_URL',
    detail: 'The path is not valid percent-encoded UTF-8.',
  },
  FST_ERR_MAX_PARAM_LENGTH: {
    status: 414,
    code: 'URI_TOO_LONG',
    detail: 'A path parameter is longer than the server accepts.',
  },
};

export function problemType(code: string): string {
  return `urn:tessera:problem:${code.toLowerCase().replace(/_/g, '-')}`;
}

export function problem(
  status: number,
  code: string,
  detail: string,
  extensions: Record<string, unknown> = {},
): Problem {
  return {
    type: problemType(code),
    title: TITLES[status] ?? (status >= 500 ? 'Server Error' : 'Client Error'),
    status,
    detail,
    code,
    ...extensions,
  };
}

/** Maps anything thrown while handling a request to a problem; `undefined` means an internal error. */
export function toProblem(error: unknown): Problem | undefined {
  if (error instanceof DomainError) {
    return problem(error.status, error.code, error.message, { ...error.extensions });
  }
  // Nest may wrap Fastify's own errors (body parsing, limits) in an HttpException: the cause says what failed.
  const raw = error instanceof HttpException ? error.cause : error;
  // Routes validated by a Fastify JSON schema (the hot path) report like the ValidationPipe does.
  const validation = raw as
    { code?: unknown; validation?: { instancePath?: string; message?: string }[] } | undefined;
  if (validation?.code === 'FST_ERR_VALIDATION' && Array.isArray(validation.validation)) {
    return problem(400, 'VALIDATION_FAILED', 'The request is not valid.', {
      errors: validation.validation.map(
        (v) =>
          `${!v.instancePath ? 'body' : v.instancePath.slice(1).replace(/\//g, '.')} ${v.message ?? 'is invalid'}`,
      ),
    });
  }
  const fastify = fastifyClientError(raw);
  if (fastify !== undefined) {
    return problem(fastify.status, fastify.code, fastify.detail);
  }
  if (error instanceof HttpException) {
    return fromHttpException(error);
  }
  return undefined;
}

/**
 * A value PostgreSQL refused that only a client can have sent (a NUL, a date out of range…): a 400, not a
 * 500. A safety net: validation should refuse such input first, so callers log these as warnings.
 */
export function fromClientDataError(error: unknown): Problem | undefined {
  switch (clientDataError(error)) {
    case 'characters':
      return problem(
        400,
        'INVALID_CHARACTERS',
        'The request contains characters that cannot be stored, such as NUL (U+0000).',
      );
    case 'value':
      return problem(
        400,
        'INVALID_VALUE',
        'A value in the request is out of range or not in the form it must have.',
      );
    case undefined:
      return undefined;
  }
}

export const INTERNAL_ERROR = (): Problem =>
  problem(500, 'INTERNAL_ERROR', 'An unexpected error occurred. It has been logged.');

function fromHttpException(error: HttpException): Problem | undefined {
  const status = error.getStatus();
  if (status >= 500 && status !== SERVICE_UNAVAILABLE) {
    return undefined;
  }
  const response = error.getResponse();
  const body =
    typeof response === 'object' && response !== null ? (response as Record<string, unknown>) : {};
  // ValidationPipe reports an array of messages: keep them, they tell the client what to fix.
  if (status === BAD_REQUEST && Array.isArray(body.message)) {
    return problem(status, 'VALIDATION_FAILED', 'The request is not valid.', {
      errors: body.message,
    });
  }
  // Terminus answers an unhealthy readiness check with the state of each dependency: keep the states, not
  // the driver's messages, which can name hosts and ports on an unauthenticated route.
  if (status === SERVICE_UNAVAILABLE && typeof body.details === 'object' && body.details !== null) {
    const checks = Object.fromEntries(
      Object.entries(body.details as Record<string, { status?: unknown }>).map(([name, check]) => [
        name,
        { status: check.status === 'up' ? 'up' : 'down' },
      ]),
    );
    return problem(status, 'NOT_READY', 'A dependency of the service is not available.', {
      checks,
    });
  }
  const code = typeof body.code === 'string' ? body.code : (HTTP_CODES[status] ?? `HTTP_${status}`);
  const detail =
    typeof body.message === 'string'
      ? body.message
      : typeof response === 'string'
        ? response
        : error.message;
  return problem(status, code, detail);
}

function fastifyClientError(
  error: unknown,
): { status: number; code: string; detail: string } | undefined {
  if (typeof error !== 'object' || error === null) {
    return undefined;
  }
  const { code, statusCode } = error as { code?: unknown; statusCode?: unknown };
  if (typeof code === 'string' && code in FASTIFY_CODES) {
    return FASTIFY_CODES[code];
  }
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    return {
      status: statusCode,
      code: HTTP_CODES[statusCode] ?? `HTTP_${statusCode}`,
      detail: error instanceof Error ? error.message : 'The request was rejected.',
    };
  }
  return undefined;
}
