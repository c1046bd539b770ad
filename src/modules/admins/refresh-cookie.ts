import type { FastifyReply, FastifyRequest } from 'fastify';

import type { LoginResultDto } from 'src/modules/admins/admin.dto';

/**
 * Browser sessions (the admin console): with `X-Tessera-Session: cookie` on sign-in, MFA verify, refresh and
 * logout, the refresh token travels in an HttpOnly, Secure, SameSite=Strict cookie scoped to /v1/auth
 * instead of the body, so no script on the page ever holds it. The custom header is the CSRF defence of the
 * cookie route: a page on another origin cannot send it without a CORS preflight, which only origins in
 * CORS_ORIGINS pass (SameSite=Strict already keeps the cookie off cross-site requests). ADR 0014.
 */
export const SESSION_HEADER = 'x-tessera-session';
export const REFRESH_COOKIE = 'tessera_refresh';
const COOKIE_PATH = '/v1/auth';

export function wantsCookie(request: FastifyRequest): boolean {
  return request.headers[SESSION_HEADER] === 'cookie';
}

export function refreshCookie(request: FastifyRequest): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === REFRESH_COOKIE) {
      return value.join('=') || undefined;
    }
  }
  return undefined;
}

/** Moves the refresh token of a sign-in answer into the cookie when the client asked for one. */
export function deliverSession(
  request: FastifyRequest,
  reply: FastifyReply,
  result: LoginResultDto,
  ttlDays: number,
): LoginResultDto {
  if (!wantsCookie(request) || result.refreshToken === undefined) {
    return result;
  }
  void reply.header('set-cookie', cookie(result.refreshToken, ttlDays * 86_400));
  return { ...result, refreshToken: undefined };
}

export function clearSessionCookie(request: FastifyRequest, reply: FastifyReply): void {
  if (wantsCookie(request)) {
    void reply.header('set-cookie', cookie('', 0));
  }
}

function cookie(value: string, maxAgeSeconds: number): string {
  return `${REFRESH_COOKIE}=${value}; Path=${COOKIE_PATH}; Max-Age=${maxAgeSeconds}; HttpOnly; Secure; SameSite=Strict`;
}
