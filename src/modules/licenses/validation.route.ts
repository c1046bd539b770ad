import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectThrottlerStorage } from '@nestjs/throttler';
import type { ThrottlerStorage } from '@nestjs/throttler';
import type { OpenAPIObject } from '@nestjs/swagger';
import type { FastifyInstance } from 'fastify';

import { APP_CONFIG } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';
import {
  VALIDATE_KEY_COMPONENTS,
  VALIDATE_KEY_SCHEMA,
} from 'src/modules/licenses/validation.schema';
import type { ValidateKeyRequest } from 'src/modules/licenses/validation.schema';
import { ValidationService } from 'src/modules/licenses/validation.service';
import { SigningService } from 'src/modules/signing/signing.service';
import { problemErrorHandler } from 'src/platform/errors/problem.filter';
import type { PlainRoute } from 'src/platform/http/plain-route';
import { countValidateHit, RateLimited } from 'src/platform/http/rate-limit';

export const VALIDATE_KEY_PATH = '/v1/licenses/actions/validate-key';
/** The routes ValidationRoute registers (the route-permission snapshot reads this list). */
export const VALIDATION_ROUTES: readonly PlainRoute[] = [
  { method: 'POST', path: VALIDATE_KEY_PATH, access: 'public (plain Fastify route)' },
];
/** A detached JWS (RFC 7515 appendix F) over the exact response body: `<protected header>..<signature>`. */
export const SIGNATURE_HEADER = 'tessera-signature';

/**
 * The validation hot path as a plain Fastify route: the JSON schema validates and serialises (compiled
 * once), and no Nest guard, pipe or interceptor runs. Measured: the Nest pipeline cost more than the query
 * (docs/performance.md). What it still gets: the global hooks (security headers, request id, tracing), its
 * per-IP validate budget (shared with the other key routes), and problem+json errors. It is public: the license key in the body is the credential.
 */
@Injectable()
export class ValidationRoute {
  private readonly logger = new Logger('ValidationRoute');

  constructor(
    private readonly validation: ValidationService,
    private readonly signing: SigningService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    // The throttler's own storage: one validate budget per IP with the @ValidateRateLimited() routes.
    @InjectThrottlerStorage() private readonly limiter: ThrottlerStorage,
  ) {}

  register(fastify: FastifyInstance): void {
    const limit = this.config.rateLimit.validatePerMinute;
    fastify.post(
      VALIDATE_KEY_PATH,
      {
        schema: VALIDATE_KEY_SCHEMA,
        errorHandler: problemErrorHandler(this.logger),
      },
      async (request, reply) => {
        const window = await countValidateHit(this.limiter, request.ip, limit);
        void reply.headers({
          'ratelimit-limit': limit,
          'ratelimit-remaining': Math.max(0, limit - window.totalHits),
          'ratelimit-reset': window.timeToExpire,
        });
        if (window.isBlocked) {
          throw new RateLimited(window.timeToBlockExpire);
        }
        const result = await this.validation.validate(request.body as ValidateKeyRequest);
        if (!this.config.signing.signValidations) {
          return result;
        }
        // Signed over the bytes that are sent, so an app can check the answer (and its nonce) even when
        // it came through a proxy: serialise once with the route's schema, sign, send those bytes.
        const body = reply.serialize(result) as string;
        const jws = await this.signing.signJws('license', Buffer.from(body), {
          typ: 'tessera-validation+jws',
        });
        const [protectedHeader, , signature] = jws.compact.split('.');
        return reply
          .header(SIGNATURE_HEADER, `${protectedHeader}..${signature}`)
          .type('application/json; charset=utf-8')
          .send(body);
      },
    );
  }
}

/** The route's entry in the OpenAPI document (Nest's generator sees only controllers). */
export function describeValidationRoute(document: OpenAPIObject): void {
  // The request body's schema is the one Fastify validates with: no second description to drift.
  document.components ??= {};
  Object.assign((document.components.schemas ??= {}), VALIDATE_KEY_COMPONENTS);
  document.paths[VALIDATE_KEY_PATH] = {
    post: {
      tags: ['licenses'],
      operationId: 'validateLicenseKey',
      summary: 'Validate a license key',
      description:
        'Public: the license key in the body is the credential. Every outcome is a 200 with `valid` and a ' +
        '`code` (first failing check, in the order of docs/licensing.md); unknown and wrong keys both answer NOT_FOUND. ' +
        'The `Tessera-Signature` header holds a detached JWS (kid in its header) over the exact response body; ' +
        'verify it with the JWKS at /v1/keys (docs/licensing.md).',
      'x-permission': 'public',
      requestBody: {
        required: true,
        content: {
          'application/json': { schema: { $ref: '#/components/schemas/ValidateKeyDto' } },
        },
      },
      responses: {
        200: {
          description: 'The validation result',
          headers: {
            'Tessera-Signature': {
              description: 'Detached compact JWS over the body: `<protected>..<signature>`',
              schema: { type: 'string' },
            },
          },
          content: {
            'application/json': { schema: { $ref: '#/components/schemas/ValidationResultDto' } },
          },
        },
        400: { description: 'VALIDATION_FAILED or INVALID_CHARACTERS (problem+json)' },
        429: { description: 'RATE_LIMITED (problem+json)' },
      },
    },
  } as OpenAPIObject['paths'][string];
}
