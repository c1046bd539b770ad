import { MAX_LICENSE_KEY_LENGTH } from 'src/modules/licenses/license-key';
import { VALIDATION_CODES } from 'src/modules/licenses/license-validation';
import type { ValidationScope } from 'src/modules/licenses/license-validation';

/**
 * The hot path is validated and serialised by Fastify from JSON schemas (compiled once, by ajv and
 * fast-json-stringify) rather than by class-validator: it is the one route where that cost shows.
 * The OpenAPI document's request components are derived from the same schema (VALIDATE_KEY_COMPONENTS).
 */
export interface ValidateKeyRequest {
  key: string;
  scope?: ValidationScope;
  nonce?: string;
}

const nullableString = { type: ['string', 'null'] } as const;

const VALIDATION_SCOPE = {
  type: 'object',
  additionalProperties: false,
  properties: {
    fingerprint: { type: 'string', minLength: 1, maxLength: 255 },
    product: { type: 'string', minLength: 1, maxLength: 64, description: 'Product id or code' },
    entitlements: { type: 'array', maxItems: 50, items: { type: 'string', maxLength: 100 } },
  },
};

const VALIDATE_KEY_BODY = {
  type: 'object',
  additionalProperties: false,
  required: ['key'],
  properties: {
    key: {
      type: 'string',
      minLength: 1,
      maxLength: MAX_LICENSE_KEY_LENGTH,
      description: 'The license key',
    },
    nonce: {
      type: 'string',
      maxLength: 128,
      description: 'Echoed back, to bind the answer to this request',
    },
    scope: VALIDATION_SCOPE,
  },
};

/** The request body as OpenAPI components (the scope under its own name, as the SDK types know it). */
export const VALIDATE_KEY_COMPONENTS = {
  ValidateKeyDto: {
    ...VALIDATE_KEY_BODY,
    properties: {
      ...VALIDATE_KEY_BODY.properties,
      scope: { $ref: '#/components/schemas/ValidationScopeDto' },
    },
  },
  ValidationScopeDto: VALIDATION_SCOPE,
};

export const VALIDATE_KEY_SCHEMA = {
  body: VALIDATE_KEY_BODY,
  response: {
    200: {
      type: 'object',
      properties: {
        valid: { type: 'boolean' },
        code: { type: 'string', enum: [...VALIDATION_CODES] },
        detail: { type: 'string' },
        license: {
          type: ['object', 'null'],
          properties: {
            id: { type: 'string' },
            status: { type: 'string' },
            expiry: nullableString,
            entitlements: { type: 'array', items: { type: 'string' } },
            policy: {
              type: 'object',
              properties: {
                id: { type: 'string' },
                name: { type: 'string' },
                productId: { type: 'string' },
                product: { type: 'string' },
                floating: { type: 'boolean' },
                maxMachines: { type: ['integer', 'null'] },
                expirationStrategy: { type: 'string' },
                requireHeartbeat: { type: 'boolean' },
                requireCheckIn: { type: 'boolean' },
              },
            },
          },
        },
        scope: {
          type: 'object',
          properties: {
            fingerprint: nullableString,
            product: nullableString,
            entitlements: { type: 'array', items: { type: 'string' } },
          },
        },
        keySha256: { type: 'string' },
        nonce: nullableString,
        validatedAt: { type: 'string' },
      },
    },
  },
};
