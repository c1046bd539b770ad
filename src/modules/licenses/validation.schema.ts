import { MAX_LICENSE_KEY_LENGTH } from 'src/modules/licenses/license-key';
import { VALIDATION_CODES } from 'src/modules/licenses/license-validation';
import type { ValidationScope } from 'src/modules/licenses/license-validation';

/**
 * The hot path is validated and serialised by Fastify from JSON schemas (compiled once, by ajv and
 * fast-json-stringify) rather than by class-validator: it is the one route where that cost shows.
 * ValidateKeyDto in license.dto.ts describes the same shape for the OpenAPI document.
 */
export interface ValidateKeyRequest {
  key: string;
  scope?: ValidationScope;
  nonce?: string;
}

const nullableString = { type: ['string', 'null'] } as const;

export const VALIDATE_KEY_SCHEMA = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['key'],
    properties: {
      key: { type: 'string', minLength: 1, maxLength: MAX_LICENSE_KEY_LENGTH },
      nonce: { type: 'string', maxLength: 128 },
      scope: {
        type: 'object',
        additionalProperties: false,
        properties: {
          fingerprint: { type: 'string', minLength: 1, maxLength: 255 },
          product: { type: 'string', minLength: 1, maxLength: 64 },
          entitlements: { type: 'array', maxItems: 50, items: { type: 'string', maxLength: 100 } },
        },
      },
    },
  },
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
