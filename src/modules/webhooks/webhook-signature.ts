import { createHmac, randomBytes } from 'node:crypto';

/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com): both schemes sign
 * `${webhook-id}.${webhook-timestamp}.${body}`, and `webhook-signature` lists every signature, space-separated,
 * as `<version>,<base64>`. Receivers accept the message if any one of them verifies.
 */
export const SECRET_PREFIX = 'whsec_';
export const SECRET_MIN_BYTES = 24;
export const SECRET_MAX_BYTES = 64;
const NEW_SECRET_BYTES = 32;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A new endpoint secret: `whsec_` and the standard base64 of 32 random bytes. */
export function newWebhookSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(NEW_SECRET_BYTES).toString('base64')}`;
}

/** The key bytes of a `whsec_` secret, or null unless it is `whsec_` + base64 of 24 to 64 bytes. */
export function secretKey(secret: string): Buffer | null {
  if (!secret.startsWith(SECRET_PREFIX)) {
    return null;
  }
  const encoded = secret.slice(SECRET_PREFIX.length);
  if (encoded === '' || !BASE64.test(encoded)) {
    return null;
  }
  const key = Buffer.from(encoded, 'base64');
  return key.length >= SECRET_MIN_BYTES && key.length <= SECRET_MAX_BYTES ? key : null;
}

/** The message id receivers deduplicate on: one per event, the same on every attempt and every endpoint. */
export function webhookId(eventId: string): string {
  return `msg_${eventId}`;
}

/** What both schemes sign. `timestamp` is the `webhook-timestamp` value, in whole seconds. */
export function signedContent(messageId: string, timestamp: number, body: string): Buffer {
  return Buffer.from(`${messageId}.${timestamp}.${body}`, 'utf8');
}

/** `v1,<base64 HMAC-SHA256>` under one secret key. */
export function hmacSignature(key: Buffer, content: Buffer): string {
  return `v1,${createHmac('sha256', key).update(content).digest('base64')}`;
}

/** `v1a,<base64 Ed25519 signature>`. */
export function ed25519Signature(signature: Buffer): string {
  return `v1a,${signature.toString('base64')}`;
}

/** The `webhook-signature` header value. */
export function signatureHeader(signatures: readonly string[]): string {
  return signatures.join(' ');
}
