import { Catch, Logger } from '@nestjs/common';
import type { ArgumentsHost, ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';

import { fromClientDataError, INTERNAL_ERROR, toProblem } from 'src/platform/errors/problem';
import type { Problem } from 'src/platform/errors/problem';
import { activeTraceId } from 'src/platform/telemetry/trace-id';

/** The one place where errors become HTTP responses: RFC 9457 problem+json, never a stack trace. */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('ProblemFilter');

  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    sendProblem(
      http.getRequest<FastifyRequest>(),
      http.getResponse<FastifyReply>(),
      error,
      this.logger,
    );
  }
}

/** The errorHandler of a route registered on Fastify directly, outside Nest: the same problem+json. */
export function problemErrorHandler(
  logger: Logger,
): (error: unknown, request: FastifyRequest, reply: FastifyReply) => void {
  return (error, request, reply) => sendProblem(request, reply, error, logger);
}

export function sendProblem(
  request: FastifyRequest,
  reply: FastifyReply,
  error: unknown,
  logger: Logger,
): void {
  let body: Problem | undefined = toProblem(error);
  if (body === undefined) {
    body = fromClientDataError(error);
    if (body !== undefined) {
      // The client's fault, but input validation let it through: worth fixing there, not paging for.
      logger.warn({ err: error, msg: 'the database refused a value from the request' });
    } else {
      logger.error({ err: error, msg: 'unhandled error while serving a request' });
      body = INTERNAL_ERROR();
    }
  }
  body.traceId = activeTraceId() ?? request.id;
  if (reply.sent) {
    return;
  }
  if (body.status === 429 && typeof body.retryAfter === 'number') {
    void reply.header('retry-after', String(body.retryAfter));
  }
  void reply
    .status(body.status)
    .header('content-type', 'application/problem+json; charset=utf-8')
    .send(JSON.stringify(body));
}
