import { randomBytes } from 'node:crypto';

// Crockford base32: no I, L, O or U, so keys survive being read aloud and typed.
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const GROUPS = 6;
const GROUP_LENGTH = 5;

/**
 * Longest key accepted anywhere a key is an input. Random keys are 35 characters; signed keys (a compact
 * JWS carrying the entitlement codes) grow with the entitlements, and are refused at issue beyond this.
 */
export const MAX_LICENSE_KEY_LENGTH = 4096;

export type KeyScheme = 'RANDOM' | 'SIGNED';
export const KEY_SCHEMES: readonly KeyScheme[] = ['RANDOM', 'SIGNED'];

/** A new license key: 30 symbols of 5 bits (150 bits of randomness) in groups, e.g. `7K2QF-…-M3X9D`. */
export function newLicenseKey(): string {
  const symbols = [...randomBytes(GROUPS * GROUP_LENGTH)].map((byte) => ALPHABET[byte % 32]);
  const groups: string[] = [];
  for (let i = 0; i < GROUPS; i++) {
    groups.push(symbols.slice(i * GROUP_LENGTH, (i + 1) * GROUP_LENGTH).join(''));
  }
  return groups.join('-');
}

/**
 * The canonical form a random key is hashed in: upper case, no separators or spaces, and the look-alikes
 * people type (O for 0, I and L for 1) mapped back, so a key read from paper still validates.
 */
export function normaliseLicenseKey(input: string): string {
  return input.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
}

/** Signed keys are compact JWS (`header.payload.signature`); random keys never contain a dot. */
export function isSignedLicenseKey(input: string): boolean {
  return input.includes('.');
}

/**
 * The form any key is hashed (and license files are encrypted) with. A signed key is case-sensitive
 * base64url, so it only loses the whitespace of line-wrapping; a random key is normalised as typed.
 */
export function canonicalLicenseKey(input: string): string {
  return isSignedLicenseKey(input) ? input.replace(/\s/g, '') : normaliseLicenseKey(input);
}

/**
 * Kept in clear so people can tell keys apart in lists: a random key's first group; for a signed key the
 * start of its signature (its header and payload begin alike for every key).
 */
export function licenseKeyPrefix(key: string): string {
  const canonical = canonicalLicenseKey(key);
  return isSignedLicenseKey(canonical)
    ? canonical.slice(canonical.lastIndexOf('.') + 1, canonical.lastIndexOf('.') + 1 + GROUP_LENGTH)
    : canonical.slice(0, GROUP_LENGTH);
}

export const SIGNED_KEY_TYP = 'tessera-key+jws';

/** What a signed key embeds, as of issue (docs/licensing.md#key-schemes). */
export interface SignedKeyPayload {
  lid: string;
  iat: number;
  /** Absent for a perpetual license: JOSE libraries reject a null `exp`. */
  exp?: number;
  ent: string[];
  jti: string;
}

/** The payload of a signed key; `jti` gives it 128 random bits, as unguessable as a random key. */
export function signedKeyPayload(
  licenseId: string,
  issuedAt: Date,
  expiresAt: Date | null,
  entitlements: readonly string[],
): SignedKeyPayload {
  return {
    lid: licenseId,
    iat: Math.floor(issuedAt.getTime() / 1000),
    ...(expiresAt === null ? {} : { exp: Math.floor(expiresAt.getTime() / 1000) }),
    ent: [...new Set(entitlements)].sort(),
    jti: randomBytes(16).toString('base64url'),
  };
}
