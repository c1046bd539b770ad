import type { Server as TlsServer } from 'node:tls';

import { Logger as NestLogger, ValidationPipe, VersioningType } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { Logger } from 'nestjs-pino';

import { AppModule } from 'src/app.module';
import { ValidationResultDto } from 'src/modules/licenses/validation.dto';
import {
  describeValidationRoute,
  VALIDATION_ROUTES,
  ValidationRoute,
} from 'src/modules/licenses/validation.route';
import type { AppConfig } from 'src/config/app-config';
import { readTlsPair } from 'src/config/tls-pair';
import { sendProblem } from 'src/platform/errors/problem.filter';
import { CONSOLE_ROUTES, defaultConsoleDir, registerConsole } from 'src/platform/http/console';
import { closeConnectionsWhileClosing } from 'src/platform/http/drain-on-close';
import { refuseNulCharacters } from 'src/platform/http/input-characters';
import { OPENAPI_ROUTES, setupOpenApi } from 'src/platform/http/openapi';
import type { PlainRoute } from 'src/platform/http/plain-route';
import { requestIdFor } from 'src/platform/http/request-id';
import { registerResponseHeaders, setResponseHeaders } from 'src/platform/http/security-headers';
import { CertificateReloader } from 'src/platform/http/tls-certificates';
import { instrumentHttp } from 'src/platform/metrics/http-metrics';
import { Metrics } from 'src/platform/metrics/metrics';
import { packageVersion } from 'src/platform/version';

/** The routes createApp registers on Fastify directly, outside Nest's router (each public). */
export function plainRoutes(config: AppConfig): readonly PlainRoute[] {
  return [
    ...VALIDATION_ROUTES,
    ...(config.http.openApiDocs ? OPENAPI_ROUTES : []),
    ...(config.console.enabled ? CONSOLE_ROUTES : []),
  ];
}

/** Builds the whole HTTP application; `main.ts` listens with it, and so do the e2e tests. */
export async function createApp(
  config: AppConfig,
  databaseUrl: string,
  extraImports: Parameters<typeof AppModule.register>[2] = [],
): Promise<NestFastifyApplication> {
  const tls = config.http.tls;
  const pair = tls === undefined ? undefined : readTlsPair(tls);
  const frameworkLogger = new NestLogger('Http');
  const headerOptions = { alwaysHsts: config.http.tlsTerminatedByProxy };
  const adapter = new FastifyAdapter({
    ...(pair === undefined ? {} : { https: { cert: pair.cert, key: pair.key } }),
    bodyLimit: config.http.bodyLimitBytes,
    // Fastify accepts a hop count at runtime; its type omits it.
    trustProxy: config.http.trustProxy as boolean | string[],
    // While shutting down: new requests get 503, idle keep-alive sockets close, in-flight requests finish.
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    logger: false,
    genReqId: requestIdFor,
    // Routes with a JSON schema (the validation hot path) reject unknown properties rather than drop them,
    // and never coerce types: the same rules as the ValidationPipe elsewhere.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: true } },
    // A path Fastify cannot decode is refused before any route or Nest filter runs: still a problem+json.
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      setResponseHeaders(request, reply, headerOptions);
      sendProblem(request, reply, error, frameworkLogger);
    },
  });
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.register(config, databaseUrl, extraImports),
    adapter,
    {
      bufferLogs: true,
      // Fastify's own JSON parser: it enforces the body limit and raises precise errors (400, 413, 415).
      bodyParser: false,
    },
  );
  app.useLogger(app.get(Logger));

  const fastify = app.getHttpAdapter().getInstance();
  const metrics = app.get(Metrics);
  if (metrics.enabled) {
    instrumentHttp(fastify, metrics);
  }
  registerResponseHeaders(fastify, headerOptions);
  if (tls !== undefined && pair !== undefined) {
    const reloader = new CertificateReloader(
      fastify.server as unknown as TlsServer,
      tls,
      pair,
      new NestLogger('Tls'),
    );
    reloader.start(tls.reloadIntervalMs);
    fastify.addHook('onClose', (_instance, done) => {
      reloader.stop();
      done();
    });
  }
  closeConnectionsWhileClosing(fastify);
  // JSON is the only request body the API takes; anything else is a 415 problem, not a silent string.
  fastify.removeContentTypeParser(['text/plain']);
  // After the response headers (a refusal carries them too), before any route, the raw one included.
  refuseNulCharacters(fastify);

  // The validation hot path bypasses Nest's pipeline (see ValidationRoute); it still gets the hooks above.
  app.get(ValidationRoute).register(fastify);
  if (config.console.enabled) {
    registerConsole(fastify, config.console.dir ?? defaultConsoleDir());
  }

  app.enableVersioning({ type: VersioningType.URI, defaultVersion: '1' });
  app.useGlobalPipes(
    new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }),
  );
  if (config.http.corsOrigins.length > 0) {
    app.enableCors({
      origin: [...config.http.corsOrigins],
      credentials: config.http.corsCredentials,
      // Browser apps must be able to read what they are meant to check or use.
      exposedHeaders: [
        'ETag',
        'Tessera-Signature',
        'Retry-After',
        'RateLimit-Reset',
        'X-Request-Id',
      ],
    });
  }
  if (config.http.openApiDocs) {
    setupOpenApi(app, packageVersion(), {
      extraModels: [ValidationResultDto],
      describe: describeValidationRoute,
    });
  }
  await app.init();
  return app;
}
