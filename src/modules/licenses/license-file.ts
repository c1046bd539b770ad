import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

import { canonicalLicenseKey } from 'src/modules/licenses/license-key';
import type { ExpirationStrategy, LicenseStatus } from 'src/modules/licenses/license-validation';
import { LicenseFileTtlOutOfRange } from 'src/modules/licenses/license.errors';

/**
 * License files for offline use, as pure functions: the claims, the encryption of the license, the armour,
 * and the TTL rules (which licenses may be checked out is `requireUsable`, shared with validation). docs/license-file.md specifies the format; change
 * one, change the other (and `v1` in the HKDF info with any incompatible change).
 */

export const LICENSE_FILE_TYP = 'tessera-license+jwt';
export const LICENSE_FILE_ISSUER = 'tessera';
export const LICENSE_FILE_HKDF_INFO = 'tessera license file v1';
export const MIN_LICENSE_FILE_TTL_SECONDS = 3_600;

const BEGIN = '-----BEGIN TESSERA LICENSE FILE-----';
const END = '-----END TESSERA LICENSE FILE-----';
const LINE_LENGTH = 64;

/** What a license file says about the license: its state at check-out. */
export interface LicenseFileLicense {
  id: string;
  keyPrefix: string;
  name: string | null;
  status: LicenseStatus;
  expiresAt: string | null;
  customerId: string;
  entitlements: string[];
  metadata: Record<string, unknown>;
  policy: {
    id: string;
    name: string;
    productId: string;
    product: string;
    floating: boolean;
    maxMachines: number | null;
    expirationStrategy: ExpirationStrategy;
    requireHeartbeat: boolean;
    heartbeatDurationSeconds: number | null;
    requireCheckIn: boolean;
    checkInIntervalSeconds: number | null;
  };
  /** Machine files only: the machine the file is bound to. */
  machine: { id: string; fingerprint: string } | null;
}

/** The license encrypted so that only the key holder (on the bound machine, for machine files) reads it. */
export interface EncryptedLicense {
  alg: 'A256GCM';
  kdf: 'HKDF-SHA256';
  /** What the HKDF input is made of: the key alone, or the key and the machine's fingerprint. */
  ikm: 'key' | 'key+fingerprint';
  salt: string;
  iv: string;
  ciphertext: string;
  tag: string;
}

export interface LicenseFileClaims {
  iss: string;
  sub: string;
  iat: number;
  nbf: number;
  exp: number;
  jti: string;
  ttl: number;
  license?: LicenseFileLicense;
  enc?: EncryptedLicense;
}

/**
 * The claims of a file issued at `issuedAt` for `ttl` seconds. With `encryptWith` (the license key) the
 * license travels encrypted in `enc` instead of in clear in `license`.
 */
export function licenseFileClaims(input: {
  license: LicenseFileLicense;
  issuedAt: Date;
  ttl: number;
  encryptWith?: string;
}): LicenseFileClaims {
  const iat = Math.floor(input.issuedAt.getTime() / 1000);
  const claims = {
    iss: LICENSE_FILE_ISSUER,
    sub: input.license.id,
    iat,
    nbf: iat,
    exp: iat + input.ttl,
    jti: randomBytes(16).toString('base64url'),
    ttl: input.ttl,
  };
  return input.encryptWith === undefined
    ? { ...claims, license: input.license }
    : { ...claims, enc: sealLicense(input.license, input.encryptWith) };
}

/** HKDF-SHA256 of the canonical license key (+ "\n" + fingerprint for machine files): 32 bytes for AES. */
export function licenseFileKey(
  licenseKey: string,
  fingerprint: string | null,
  salt: Buffer,
): Buffer {
  const ikm = canonicalLicenseKey(licenseKey) + (fingerprint === null ? '' : `\n${fingerprint}`);
  return Buffer.from(hkdfSync('sha256', ikm, salt, LICENSE_FILE_HKDF_INFO, 32));
}

/** AES-256-GCM under a fresh salt and IV; the license id is the AAD, so a ciphertext cannot move files. */
export function sealLicense(license: LicenseFileLicense, licenseKey: string): EncryptedLicense {
  const fingerprint = license.machine?.fingerprint ?? null;
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', licenseFileKey(licenseKey, fingerprint, salt), iv);
  cipher.setAAD(Buffer.from(license.id));
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(license)), cipher.final()]);
  return {
    alg: 'A256GCM',
    kdf: 'HKDF-SHA256',
    ikm: fingerprint === null ? 'key' : 'key+fingerprint',
    salt: salt.toString('base64url'),
    iv: iv.toString('base64url'),
    ciphertext: ciphertext.toString('base64url'),
    tag: cipher.getAuthTag().toString('base64url'),
  };
}

/** The inverse of sealLicense; throws when the key (or fingerprint) is not the one it was sealed for. */
export function openLicense(
  enc: EncryptedLicense,
  licenseId: string,
  licenseKey: string,
  fingerprint: string | null,
): LicenseFileLicense {
  if (enc.alg !== 'A256GCM' || enc.kdf !== 'HKDF-SHA256') {
    throw new Error(`unsupported license file encryption ${enc.alg}/${enc.kdf}`);
  }
  const key = licenseFileKey(
    licenseKey,
    enc.ikm === 'key+fingerprint' ? fingerprint : null,
    Buffer.from(enc.salt, 'base64url'),
  );
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(enc.iv, 'base64url'));
  decipher.setAAD(Buffer.from(licenseId));
  decipher.setAuthTag(Buffer.from(enc.tag, 'base64url'));
  const plaintext = Buffer.concat([
    decipher.update(Buffer.from(enc.ciphertext, 'base64url')),
    decipher.final(),
  ]);
  return JSON.parse(plaintext.toString('utf8')) as LicenseFileLicense;
}

/** The JWT between BEGIN/END lines, wrapped at 64 characters: stripping the armour gives the JWT back. */
export function armour(jwt: string): string {
  const lines = jwt.match(new RegExp(`.{1,${LINE_LENGTH}}`, 'g')) ?? [];
  return `${BEGIN}\n${lines.join('\n')}\n${END}\n`;
}

/**
 * The JWT inside an armoured file (line breaks and surrounding text ignored). Each part must be canonical
 * base64url: decoders ignore the spare low bits of a last character, so without this check a few
 * one-character changes to the signature's end would still verify.
 */
export function dearmour(text: string): string {
  const begin = text.indexOf(BEGIN);
  const end = text.indexOf(END, begin + BEGIN.length);
  if (begin === -1 || end === -1) {
    throw new Error('not a Tessera license file: BEGIN/END lines missing');
  }
  const jwt = text.slice(begin + BEGIN.length, end).replace(/\s/g, '');
  const parts = jwt.split('.');
  if (
    parts.length !== 3 ||
    parts.some((part) => Buffer.from(part, 'base64url').toString('base64url') !== part)
  ) {
    throw new Error('not a Tessera license file: the body is not a compact JWS');
  }
  return jwt;
}

/**
 * The TTL of a file: the requested one, or the configured default (shortened to the policy's check-in
 * interval when the policy requires check-ins). A requested TTL outside [1 h, max] or beyond the check-in
 * interval is refused rather than shortened, so an offline app never holds a shorter file than it asked for.
 */
export function licenseFileTtl(
  requested: number | undefined,
  bounds: { readonly default: number; readonly max: number },
  policy: { requireCheckIn: boolean; checkInIntervalSeconds: number | null },
): number {
  const checkIn = policy.requireCheckIn ? policy.checkInIntervalSeconds : null;
  const ttl = requested ?? Math.min(bounds.default, checkIn ?? bounds.default);
  if (checkIn !== null && checkIn < MIN_LICENSE_FILE_TTL_SECONDS) {
    throw new LicenseFileTtlOutOfRange(
      'LICENSE_FILE_TTL_EXCEEDS_CHECK_IN',
      `The policy requires a check-in every ${checkIn} s, shorter than the shortest file (${MIN_LICENSE_FILE_TTL_SECONDS} s).`,
    );
  }
  if (ttl < MIN_LICENSE_FILE_TTL_SECONDS) {
    throw new LicenseFileTtlOutOfRange(
      'LICENSE_FILE_TTL_TOO_SHORT',
      `A license file lives at least ${MIN_LICENSE_FILE_TTL_SECONDS} s.`,
      { min: MIN_LICENSE_FILE_TTL_SECONDS },
    );
  }
  if (ttl > bounds.max) {
    throw new LicenseFileTtlOutOfRange(
      'LICENSE_FILE_TTL_TOO_LONG',
      `A license file lives at most ${bounds.max} s.`,
      { max: bounds.max },
    );
  }
  if (checkIn !== null && ttl > checkIn) {
    throw new LicenseFileTtlOutOfRange(
      'LICENSE_FILE_TTL_EXCEEDS_CHECK_IN',
      `The policy requires a check-in every ${checkIn} s: a file may not outlive that.`,
      { max: checkIn },
    );
  }
  return ttl;
}
