import { compactVerify, jwtVerify } from 'jose';
import type { JWTPayload } from 'jose';

import { canonicalKey, fromBase64url, fromUtf8, toBase64url, utf8 } from './encoding.js';
import { ALGORITHMS } from './keys.js';
import type { KeySet } from './keys.js';

const BEGIN = '-----BEGIN TESSERA LICENSE FILE-----';
const END = '-----END TESSERA LICENSE FILE-----';
/** Offline clocks drift (docs/license-file.md, "Clocks"). */
export const CLOCK_TOLERANCE_SECONDS = 300;

/** The license inside a file (docs/license-file.md). */
export interface FileLicense {
  id: string;
  status: string;
  expiresAt: string | null;
  entitlements: string[];
  machine: { id: string; fingerprint: string } | null;
  policy: { expirationStrategy: string; [field: string]: unknown };
  [field: string]: unknown;
}

export interface VerifiedLicenseFile {
  kid: string;
  issuedAt: Date;
  expiresAt: Date;
  license: FileLicense;
  entitlements: string[];
}

export class LicenseFileError extends Error {
  override readonly name = 'LicenseFileError';

  constructor(
    message: string,
    /** `other-machine`: a genuine file of another machine; `expired`: the license (not the file) has. */
    readonly reason: 'invalid' | 'other-machine' | 'expired' = 'invalid',
  ) {
    super(message);
  }
}

interface Encrypted {
  alg: string;
  kdf: string;
  ikm: 'key' | 'key+fingerprint';
  salt: string;
  iv: string;
  ciphertext: string;
  tag: string;
}

/** The JWT between the armour lines; each part must re-encode to itself (no unused-bit variants). */
export function dearmour(text: string): string {
  const jwt = text.replace(BEGIN, '').replace(END, '').replace(/\s/g, '');
  const parts = jwt.split('.');
  if (parts.length !== 3 || parts.some((part) => toBase64url(fromBase64url(part)) !== part)) {
    throw new LicenseFileError('malformed license file');
  }
  return jwt;
}

/** AES-256-GCM under HKDF-SHA256(license key [+ "\n" + fingerprint]), with the license id as AAD. */
async function decrypt(
  enc: Encrypted,
  licenseId: string,
  licenseKey: string | undefined,
  fingerprint: string | undefined,
): Promise<FileLicense> {
  if (enc.alg !== 'A256GCM' || enc.kdf !== 'HKDF-SHA256') {
    throw new LicenseFileError(`unsupported encryption ${enc.alg}/${enc.kdf}`);
  }
  if (licenseKey === undefined) {
    throw new LicenseFileError('the license is encrypted: the license key is needed');
  }
  if (enc.ikm === 'key+fingerprint' && fingerprint === undefined) {
    throw new LicenseFileError("a machine file: the machine's fingerprint is needed");
  }
  const ikm = canonicalKey(licenseKey) + (enc.ikm === 'key+fingerprint' ? `\n${fingerprint}` : '');
  const base = await crypto.subtle.importKey('raw', utf8(ikm), 'HKDF', false, ['deriveKey']);
  const key = await crypto.subtle.deriveKey(
    {
      name: 'HKDF',
      hash: 'SHA-256',
      salt: fromBase64url(enc.salt),
      info: utf8('tessera license file v1'),
    },
    base,
    { name: 'AES-GCM', length: 256 },
    false,
    ['decrypt'],
  );
  const sealed = new Uint8Array([...fromBase64url(enc.ciphertext), ...fromBase64url(enc.tag)]);
  let plaintext: ArrayBuffer;
  try {
    plaintext = await crypto.subtle.decrypt(
      {
        name: 'AES-GCM',
        iv: fromBase64url(enc.iv),
        additionalData: utf8(licenseId),
        tagLength: 128,
      },
      key,
      sealed,
    );
  } catch {
    // The signature held, so the file is genuine: a machine file that does not open is another machine's.
    throw new LicenseFileError(
      'cannot decrypt the license: wrong license key or fingerprint',
      enc.ikm === 'key+fingerprint' && fingerprint !== undefined ? 'other-machine' : 'invalid',
    );
  }
  return JSON.parse(fromUtf8(new Uint8Array(plaintext))) as FileLicense;
}

export interface VerifyLicenseFileOptions {
  licenseKey?: string;
  /** This machine's fingerprint: needed for machine files. */
  fingerprint?: string;
  now?: Date;
}

/**
 * Checks a license file offline: signature (kid from the key set, EdDSA/ES256 only), `typ`, issuer and
 * validity period, decrypts it if needed, then the subject, the machine binding and the license's expiry
 * under its policy. Throws LicenseFileError (or a jose error) for anything that does not hold.
 */
export async function verifyLicenseFile(
  text: string,
  keys: KeySet,
  options: VerifyLicenseFileOptions = {},
): Promise<VerifiedLicenseFile> {
  const now = options.now ?? new Date();
  const { payload, protectedHeader } = await jwtVerify<
    JWTPayload & { enc?: Encrypted; license?: FileLicense }
  >(dearmour(text), keys.key, {
    issuer: 'tessera',
    typ: 'tessera-license+jwt',
    algorithms: ALGORITHMS,
    requiredClaims: ['sub', 'iat', 'nbf', 'exp', 'jti'],
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
    currentDate: now,
  });
  const license =
    payload.enc === undefined
      ? payload.license
      : await decrypt(payload.enc, payload.sub!, options.licenseKey, options.fingerprint);
  if (license === undefined || license.id !== payload.sub) {
    throw new LicenseFileError('the license is not the subject of the file');
  }
  // A machine file is valid on its machine only.
  if (license.machine !== null && license.machine.fingerprint !== options.fingerprint) {
    throw new LicenseFileError(
      options.fingerprint === undefined
        ? "the file is bound to a machine: pass this machine's fingerprint"
        : 'the file is bound to another machine',
      'other-machine',
    );
  }
  const restricts = ['RESTRICT_ACCESS', 'REVOKE_ACCESS'].includes(
    license.policy.expirationStrategy,
  );
  if (restricts && license.expiresAt !== null && new Date(license.expiresAt) <= now) {
    throw new LicenseFileError('the license has expired', 'expired');
  }
  return {
    kid: protectedHeader.kid!,
    issuedAt: new Date(payload.iat! * 1000),
    expiresAt: new Date(payload.exp! * 1000),
    license,
    entitlements: [...license.entitlements],
  };
}

/** The signed issue time of a file, whatever its state (an expired file still proves when it was made). */
export async function signedIssueTime(text: string, keys: KeySet): Promise<Date> {
  const { payload, protectedHeader } = await compactVerify(dearmour(text), keys.key, {
    algorithms: ALGORITHMS,
  });
  if (protectedHeader.typ !== 'tessera-license+jwt') {
    throw new LicenseFileError('not a license file');
  }
  return new Date((JSON.parse(fromUtf8(payload)) as { iat: number }).iat * 1000);
}
