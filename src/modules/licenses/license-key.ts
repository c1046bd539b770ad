import { randomBytes } from 'node:crypto';

// Crockford base32: no I, L, O or U, so keys survive being read aloud and typed.
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const GROUPS = 6;
const GROUP_LENGTH = 5;

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
 * The canonical form a key is hashed in: upper case, no separators or spaces, and the look-alikes people
 * type (O for 0, I and L for 1) mapped back, so a key read from paper still validates.
 */
export function normaliseLicenseKey(input: string): string {
  return input.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
}

/** The first group, kept in clear so people can tell keys apart in lists. */
export function licenseKeyPrefix(key: string): string {
  return normaliseLicenseKey(key).slice(0, GROUP_LENGTH);
}
