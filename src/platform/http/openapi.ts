import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { OpenAPIObject } from '@nestjs/swagger';

import type { PlainRoute } from 'src/platform/http/plain-route';
import { DOCS_PATH } from 'src/platform/http/security-headers';

export const OPENAPI_PATH = '/openapi.json';
const OPENAPI_YAML_PATH = '/openapi.yaml';

/** What setupOpenApi serves (only with OPENAPI_DOCS_ENABLED=true, the default). */
export const OPENAPI_ROUTES: readonly PlainRoute[] = [
  { method: 'GET', path: `/${DOCS_PATH}`, access: 'public (OPENAPI_DOCS_ENABLED): reference page' },
  {
    method: 'GET',
    path: `/${DOCS_PATH}/*`,
    access: 'public (OPENAPI_DOCS_ENABLED): reference page assets',
  },
  { method: 'GET', path: OPENAPI_PATH, access: 'public (OPENAPI_DOCS_ENABLED): OpenAPI document' },
  {
    method: 'GET',
    path: OPENAPI_YAML_PATH,
    access: 'public (OPENAPI_DOCS_ENABLED): OpenAPI document',
  },
];

/** Builds the OpenAPI document from the controllers and DTOs, and serves it with a browsable UI. */
export function setupOpenApi(
  app: INestApplication,
  version: string,
  extra: {
    extraModels?: Array<new (...args: never[]) => object>;
    describe?: (document: OpenAPIObject) => void;
  } = {},
): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Tessera API')
    .setDescription(
      'Self-hosted license server. Every API route is under /v1. Errors are RFC 9457 problem documents ' +
        '(application/problem+json) with a stable `code`.',
    )
    .setVersion(version)
    .addBearerAuth({
      type: 'http',
      scheme: 'bearer',
      description: 'Access token (admins) or API key (integrators)',
    })
    .build();
  const document = SwaggerModule.createDocument(app, config, {
    extraModels: extra.extraModels ?? [],
  });
  // Routes registered on Fastify directly (the validation hot path) describe themselves.
  extra.describe?.(document);
  SwaggerModule.setup(DOCS_PATH, app, document, {
    jsonDocumentUrl: OPENAPI_PATH,
    yamlDocumentUrl: OPENAPI_YAML_PATH,
    customSiteTitle: 'Tessera API',
  });
  return document;
}
