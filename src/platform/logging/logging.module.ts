import { Module, RequestMethod } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { LoggerModule } from 'nestjs-pino';

import { APP_CONFIG } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';
import { activeTraceId } from 'src/platform/telemetry/trace-id';

// The validation hot path (a plain Fastify route in the licenses module); kept here as a path, not an import.
const VALIDATE_KEY_PATH = '/v1/licenses/actions/validate-key';

/** Paths pino replaces with "[redacted]" wherever they occur in a log line. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'req.headers["idempotency-key"]',
  'res.headers["set-cookie"]',
  ...[
    'password',
    'newPassword',
    'currentPassword',
    'totp',
    'totpCode',
    'otp',
    'recoveryCode',
    'secret',
    'token',
    'accessToken',
    'refreshToken',
    'apiKey',
    'key',
    'licenseKey',
    'pin',
  ].flatMap((field) => [field, `*.${field}`]),
];

@Module({
  imports: [
    LoggerModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        // No request logger at all on the validation hot path: building pino's per-request child logger
        // (bindings, redaction) cost ~10% of a validation's CPU even with no line written (profiled).
        exclude: [{ path: VALIDATE_KEY_PATH, method: RequestMethod.POST }],
        pinoHttp: {
          level: config.log.level,
          // Fastify has already assigned the id (from X-Request-Id or a new UUID) to the raw request.
          genReqId: (req: IncomingMessage & { id?: string }) => req.id ?? 'unknown',
          customProps: (req: IncomingMessage & { id?: string; traceId?: string }) =>
            req.traceId === undefined
              ? { requestId: req.id }
              : { requestId: req.id, traceId: req.traceId },
          redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
          // Every line, request or not, carries the trace id when tracing is on.
          mixin: () => {
            const traceId = activeTraceId();
            return traceId === undefined ? {} : { traceId };
          },
          serializers: {
            // The query string can carry secrets; log the path only.
            req: (req: IncomingMessage & { id?: string; remoteAddress?: string }) => ({
              id: req.id,
              method: req.method,
              path: req.url?.split('?')[0],
              remoteAddress: req.remoteAddress,
            }),
          },
          customLogLevel: (_req: IncomingMessage, res: { statusCode: number }, error?: Error) =>
            error !== undefined || res.statusCode >= 500
              ? 'error'
              : res.statusCode >= 400
                ? 'warn'
                : 'info',
          autoLogging: {
            // No access line for health probes and license validations: on the hot path the log line
            // would cost more than the query. Errors there are still logged by the problem handler.
            ignore: (req: IncomingMessage & { originalUrl?: string }) => {
              const url = req.originalUrl ?? req.url ?? '';
              return url.startsWith('/health/') || url.startsWith(VALIDATE_KEY_PATH);
            },
          },
        },
      }),
    }),
  ],
})
export class LoggingModule {}
