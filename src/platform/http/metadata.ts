import { ValidateBy } from 'class-validator';

const METADATA_MAX_KEYS = 50;
const METADATA_MAX_BYTES = 16_384;

/** A JSON object of at most 50 keys and 16 KB serialized: room for integrators' references, not documents. */
export function IsMetadata(): PropertyDecorator {
  return ValidateBy({
    name: 'isMetadata',
    validator: {
      validate: (value: unknown) =>
        typeof value === 'object' &&
        value !== null &&
        !Array.isArray(value) &&
        Object.keys(value).length <= METADATA_MAX_KEYS &&
        Buffer.byteLength(JSON.stringify(value)) <= METADATA_MAX_BYTES,
      defaultMessage: () =>
        `metadata must be a JSON object of at most ${METADATA_MAX_KEYS} keys and ${METADATA_MAX_BYTES} bytes`,
    },
  });
}

/** The OpenAPI schema of a `metadata` field. */
export const METADATA_DOC = {
  type: 'object',
  additionalProperties: true,
  description: `Free-form JSON object, at most ${METADATA_MAX_KEYS} keys and ${METADATA_MAX_BYTES} bytes`,
} as const;
