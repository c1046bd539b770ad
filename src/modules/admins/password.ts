import argon2 from 'argon2';

import { COMMON_PASSWORDS } from 'src/modules/admins/common-passwords';

export const PASSWORD_MIN_LENGTH = 12;

/** Why a new password is refused, or null when it is acceptable. */
export function passwordWeakness(password: string, email: string): string | null {
  if ([...password].length < PASSWORD_MIN_LENGTH) {
    return `must be at least ${PASSWORD_MIN_LENGTH} characters`;
  }
  if ([...password].length > 256) {
    return 'must be at most 256 characters';
  }
  const lower = password.toLowerCase();
  if (COMMON_PASSWORDS.has(lower)) {
    return 'is one of the most common passwords';
  }
  const localPart = email.split('@')[0]?.toLowerCase() ?? '';
  if (localPart.length >= 4 && lower.includes(localPart)) {
    return 'must not contain the email address';
  }
  if (new Set(lower).size < 4) {
    return 'uses too few different characters';
  }
  return null;
}

// OWASP's argon2id baseline (19 MiB, 2 passes, 1 lane). The library default (64 MiB, 3 passes, 4 lanes)
// measured ~150 ms per verification on these 2-core machines, capping logins near 5/s; this is ~30 ms.
// Verification reads the parameters from the stored hash, so raising them later only affects new hashes.
const ARGON2_OPTIONS = {
  type: argon2.argon2id,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
} as const;

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, ARGON2_OPTIONS);
}

export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}

// Verified against when the email is unknown, so both cases cost one argon2 verification.
let decoyHash: Promise<string> | undefined;
export function decoyPasswordHash(): Promise<string> {
  decoyHash ??= hashPassword('decoy-password-never-matches');
  return decoyHash;
}
