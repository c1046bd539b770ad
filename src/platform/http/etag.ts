import { Injectable } from '@nestjs/common';
import type { CallHandler, ExecutionContext, NestInterceptor } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { tap } from 'rxjs';
import type { Observable } from 'rxjs';

import { DomainError } from 'src/platform/errors/domain-error';

export class PreconditionRequired extends DomainError {
  readonly code = 'PRECONDITION_REQUIRED';
  readonly status = 428;
  constructor() {
    super('Send If-Match with the ETag of the version you read (optimistic locking).');
  }
}

export class InvalidIfMatch extends DomainError {
  readonly code = 'INVALID_IF_MATCH';
  readonly status = 400;
  constructor() {
    super('If-Match must be an ETag this API returned, e.g. W/"3".');
  }
}

export class StaleVersion extends DomainError {
  readonly code = 'STALE_VERSION';
  readonly status = 412;
  constructor() {
    super('The resource changed since you read it: fetch it again and retry with its new ETag.');
  }
}

/** The ETag of a row version. */
export function etagOf(version: number): string {
  return `W/"${version}"`;
}

/** The row version an If-Match header names; required for PATCH. */
export function versionFromIfMatch(header: string | undefined): number {
  if (header === undefined || header.trim() === '') {
    throw new PreconditionRequired();
  }
  const match = /^(?:W\/)?"(\d{1,10})"$/.exec(header.trim());
  if (match === null) {
    throw new InvalidIfMatch();
  }
  return Number(match[1]);
}

/**
 * Every single resource read or patched carries its ETag (`W/"<version>"`), taken from the response's
 * `version`: one rule here rather than a header set by hand in each controller. Lists have no `version`.
 */
@Injectable()
export class EtagInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const method = context.switchToHttp().getRequest<FastifyRequest>().method;
    if (method !== 'GET' && method !== 'PATCH') {
      return next.handle();
    }
    const reply = context.switchToHttp().getResponse<FastifyReply>();
    return next.handle().pipe(
      tap((body: unknown) => {
        const version = (body as { version?: unknown } | null)?.version;
        if (typeof version === 'number') {
          void reply.header('etag', etagOf(version));
        }
      }),
    );
  }
}
