import { createParamDecorator } from '@nestjs/common';
import type { ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';

/** Where a request came from, for audit events of callers that are not (yet) authenticated. */
export interface RequestMeta {
  readonly ip: string;
  readonly userAgent: string | undefined;
  readonly requestId: string;
}

export function requestMetaOf(request: FastifyRequest): RequestMeta {
  const userAgent = request.headers['user-agent'];
  return { ip: request.ip, userAgent: userAgent?.slice(0, 512), requestId: request.id };
}

export const ClientMeta = createParamDecorator(
  (_data: unknown, context: ExecutionContext): RequestMeta =>
    requestMetaOf(context.switchToHttp().getRequest<FastifyRequest>()),
);
