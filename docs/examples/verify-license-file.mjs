// Verifies Tessera license files and signed license keys offline, with jose and node:crypto only.
//   node verify-license-file.mjs <license file> <jwks.json> [license key] [fingerprint]
// The JWKS is GET /v1/keys, saved while online (or shipped with the app).
import { createDecipheriv, hkdfSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { compactVerify, createLocalJWKSet, jwtVerify } from 'jose';

const ALGORITHMS = ['EdDSA', 'ES256'];

/** The JWT between the BEGIN/END lines. Each part must be canonical base64url (docs: one-byte changes). */
export function dearmour(text) {
  const jwt = text
    .replace('-----BEGIN TESSERA LICENSE FILE-----', '')
    .replace('-----END TESSERA LICENSE FILE-----', '')
    .replace(/\s/g, '');
  for (const part of jwt.split('.')) {
    if (Buffer.from(part, 'base64url').toString('base64url') !== part) {
      throw new Error('malformed license file');
    }
  }
  return jwt;
}

/** The license key as Tessera reads it: signed keys lose whitespace; random keys are normalised as typed. */
export function canonicalKey(key) {
  return key.includes('.')
    ? key.replace(/\s/g, '')
    : key.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
}

/** AES-256-GCM under HKDF-SHA256(license key [+ "\n" + fingerprint]), with the license id as AAD. */
function decrypt(enc, licenseId, licenseKey, fingerprint) {
  if (enc.alg !== 'A256GCM' || enc.kdf !== 'HKDF-SHA256') {
    throw new Error(`unsupported encryption ${enc.alg}/${enc.kdf}`);
  }
  if (licenseKey === undefined) {
    throw new Error('the license is encrypted: the license key is needed');
  }
  if (enc.ikm === 'key+fingerprint' && fingerprint === undefined) {
    throw new Error("a machine file: the machine's fingerprint is needed");
  }
  const ikm = canonicalKey(licenseKey) + (enc.ikm === 'key+fingerprint' ? `\n${fingerprint}` : '');
  const salt = Buffer.from(enc.salt, 'base64url');
  const key = Buffer.from(hkdfSync('sha256', ikm, salt, 'tessera license file v1', 32));
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(enc.iv, 'base64url'));
  decipher.setAAD(Buffer.from(licenseId));
  decipher.setAuthTag(Buffer.from(enc.tag, 'base64url'));
  const plaintext = Buffer.concat([
    decipher.update(Buffer.from(enc.ciphertext, 'base64url')),
    decipher.final(), // throws for a wrong key or fingerprint
  ]);
  return JSON.parse(plaintext.toString('utf8'));
}

/**
 * Checks the signature (with the key named by `kid`), issuer, type and validity period of a license
 * file, decrypts it if needed, and checks the machine binding and the license's own expiry.
 */
export async function verifyLicenseFile(text, jwks, options = {}) {
  const { licenseKey, fingerprint, currentDate } = options;
  const { payload, protectedHeader } = await jwtVerify(dearmour(text), createLocalJWKSet(jwks), {
    issuer: 'tessera',
    typ: 'tessera-license+jwt',
    algorithms: ALGORITHMS,
    requiredClaims: ['sub', 'iat', 'nbf', 'exp', 'jti'],
    clockTolerance: 300, // offline clocks drift: docs "Clocks"
    currentDate,
  });
  const license =
    payload.enc === undefined
      ? payload.license
      : decrypt(payload.enc, payload.sub, licenseKey, fingerprint);
  if (license.id !== payload.sub) {
    throw new Error('the license is not the subject of the file');
  }
  // A machine file is valid on its machine only: the app must say which machine it runs on.
  if (license.machine !== null && license.machine.fingerprint !== fingerprint) {
    throw new Error(
      fingerprint === undefined
        ? "the file is bound to a machine: pass this machine's fingerprint"
        : 'the file is bound to another machine',
    );
  }
  const now = currentDate ?? new Date();
  const restricts = ['RESTRICT_ACCESS', 'REVOKE_ACCESS'].includes(
    license.policy.expirationStrategy,
  );
  if (restricts && license.expiresAt !== null && new Date(license.expiresAt) <= now) {
    throw new Error('the license has expired');
  }
  return { kid: protectedHeader.kid, expiresAt: new Date(payload.exp * 1000), license };
}

/** The data a signed license key embeds (as of issue: renewals show online and in license files). */
export async function verifySignedLicenseKey(key, jwks) {
  const { payload, protectedHeader } = await compactVerify(
    canonicalKey(key),
    createLocalJWKSet(jwks),
    {
      algorithms: ALGORITHMS,
    },
  );
  if (protectedHeader.typ !== 'tessera-key+jws') {
    throw new Error('not a Tessera license key');
  }
  return JSON.parse(new TextDecoder().decode(payload));
}

// As a command: prints the license file's content, or the reason it is not valid (exit code 1).
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, jwksFile, licenseKey, fingerprint] = process.argv.slice(2);
  const jwks = JSON.parse(readFileSync(jwksFile, 'utf8'));
  verifyLicenseFile(readFileSync(file, 'utf8'), jwks, { licenseKey, fingerprint }).then(
    (verified) => console.log(JSON.stringify(verified, null, 2)),
    (error) => {
      console.error(`invalid license file: ${error.message}`);
      process.exitCode = 1;
    },
  );
}
