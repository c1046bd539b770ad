import { createHmac, createSecretKey, randomBytes, timingSafeEqual } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

/**
 * HMAC-SHA256 under HASHING_KEY, for high-entropy bearer secrets (API keys, refresh tokens, recovery codes,
 * license keys): a stolen database alone cannot test guesses, and lookups stay one indexed equality query.
 * Passwords, which are low-entropy, use argon2id instead.
 */
export class KeyedHash {
  // A KeyObject built once: passing raw bytes would rebuild one on every digest (measurable on the hot path).
  private readonly key: KeyObject;

  constructor(key: Buffer) {
    this.key = createSecretKey(key);
  }

  digest(purpose: string, value: string): string {
    return createHmac('sha256', this.key).update(`${purpose}\0${value}`).digest('base64url');
  }

  matches(purpose: string, value: string, expected: string): boolean {
    const actual = Buffer.from(this.digest(purpose, value));
    const wanted = Buffer.from(expected);
    return actual.length === wanted.length && timingSafeEqual(actual, wanted);
  }
}

/** A random secret with a recognisable prefix, e.g. `tsk_live_<43 base64url chars>` for 32 bytes. */
export function newBearerSecret(prefix: string, bytes = 32): string {
  return `${prefix}${randomBytes(bytes).toString('base64url')}`;
}
