import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

import { jwtVerify } from 'jose';

import {
  armour,
  dearmour,
  LICENSE_FILE_TYP,
  licenseFileClaims,
  licenseFileTtl,
  openLicense,
  sealLicense,
} from 'src/modules/licenses/license-file';
import type { LicenseFileLicense } from 'src/modules/licenses/license-file';
import {
  canonicalLicenseKey,
  licenseKeyPrefix,
  newLicenseKey,
  signedKeyPayload,
} from 'src/modules/licenses/license-key';
import type { DomainError } from 'src/platform/errors/domain-error';

const NOW = new Date('2026-03-01T12:00:00Z');
const HOUR = 3_600;
const DAY = 86_400;
const BOUNDS = { default: 30 * DAY, max: 365 * DAY };

const license = (machine: LicenseFileLicense['machine'] = null): LicenseFileLicense => ({
  id: '6f1f6a57-6a38-4d5e-9a53-0b2f0c1d2e3f',
  keyPrefix: 'ABCDE',
  name: 'Globex seat',
  status: 'ACTIVE',
  expiresAt: '2027-03-01T12:00:00.000Z',
  customerId: '0c9a3c3e-5d2b-4f7e-8a1b-2c3d4e5f6a7b',
  entitlements: ['feature.export-pdf'],
  metadata: { seats: 5 },
  policy: {
    id: '1d2e3f40-5162-4738-8495-a6b7c8d9e0f1',
    name: 'Pro',
    productId: '2e3f4051-6273-4849-95a6-b7c8d9e0f102',
    product: 'acme-pro',
    floating: false,
    maxMachines: 1,
    expirationStrategy: 'RESTRICT_ACCESS',
    requireHeartbeat: false,
    heartbeatDurationSeconds: null,
    requireCheckIn: false,
    checkInIntervalSeconds: null,
  },
  machine,
});

/** What SigningService.signJws does, with a local key: a compact JWS with alg, kid and typ. */
function signJwt(alg: 'EdDSA' | 'ES256', key: KeyObject, payload: object): string {
  const header = Buffer.from(JSON.stringify({ alg, kid: 'license-test', typ: LICENSE_FILE_TYP }));
  const input = `${header.toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  const signature =
    alg === 'EdDSA'
      ? sign(null, Buffer.from(input), key)
      : sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

function codeOf(work: () => unknown): string | undefined {
  try {
    work();
    return undefined;
  } catch (error) {
    return (error as DomainError).code;
  }
}

describe('license file armour', () => {
  it('wraps the JWT in 64-character lines between BEGIN and END, and gives it back unchanged', () => {
    const part = (bytes: number) => randomBytes(bytes).toString('base64url');
    const jwt = `${part(75)}.${part(400)}.${part(64)}`;
    const text = armour(jwt);
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toBe('-----BEGIN TESSERA LICENSE FILE-----');
    expect(lines.at(-1)).toBe('-----END TESSERA LICENSE FILE-----');
    expect(lines.slice(1, -1).every((line) => line.length <= 64)).toBe(true);
    expect(lines.slice(1, -2).every((line) => line.length === 64)).toBe(true);
    expect(lines.slice(1, -1).join('')).toBe(jwt);
    expect(dearmour(text)).toBe(jwt);
    // Mail clients and Windows editors rewrap and add text around it.
    expect(dearmour(`Your license:\r\n${text.replace(/\n/g, '\r\n')}\r\nThanks`)).toBe(jwt);
  });

  it('refuses text without the BEGIN/END lines or with a body that is not a compact JWS', () => {
    expect(() => dearmour('eyJ.eyJ.sig')).toThrow(/BEGIN\/END/);
    expect(() => dearmour(armour('abc.def'))).toThrow(/compact JWS/);
    expect(() => dearmour(armour('ab$c.def.ghi'))).toThrow(/compact JWS/);
  });
});

describe('license file encryption', () => {
  const key = newLicenseKey();

  it('round-trips with the license key, however it is typed', () => {
    const sealed = sealLicense(license(), key);
    expect(sealed).toMatchObject({ alg: 'A256GCM', kdf: 'HKDF-SHA256', ikm: 'key' });
    expect(Buffer.from(sealed.salt, 'base64url')).toHaveLength(16);
    expect(Buffer.from(sealed.iv, 'base64url')).toHaveLength(12);
    expect(Buffer.from(sealed.tag, 'base64url')).toHaveLength(16);
    expect(JSON.stringify(sealed)).not.toContain('Globex');
    const typed = key.toLowerCase().replace(/-/g, ' ');
    expect(openLicense(sealed, license().id, typed, null)).toEqual(license());
  });

  it('fails with another key, for another license id, or after a change to the ciphertext', () => {
    const sealed = sealLicense(license(), key);
    expect(() => openLicense(sealed, license().id, newLicenseKey(), null)).toThrow();
    expect(() => openLicense(sealed, '00000000-0000-4000-8000-000000000000', key, null)).toThrow();
    const bytes = Buffer.from(sealed.ciphertext, 'base64url');
    bytes[0] ^= 1;
    expect(() =>
      openLicense({ ...sealed, ciphertext: bytes.toString('base64url') }, license().id, key, null),
    ).toThrow();
  });

  it('binds a machine file to the key and the fingerprint together', () => {
    const machine = license({ id: '3f405162-7384-4956-a6b7-c8d9e0f10213', fingerprint: 'fp-1' });
    const sealed = sealLicense(machine, key);
    expect(sealed.ikm).toBe('key+fingerprint');
    expect(openLicense(sealed, machine.id, key, 'fp-1')).toEqual(machine);
    expect(() => openLicense(sealed, machine.id, key, 'fp-2')).toThrow();
    expect(() => openLicense(sealed, machine.id, key, null)).toThrow();
  });

  it('uses a fresh salt and IV for every file', () => {
    const a = sealLicense(license(), key);
    const b = sealLicense(license(), key);
    expect(a.salt).not.toBe(b.salt);
    expect(a.iv).not.toBe(b.iv);
    expect(a.ciphertext).not.toBe(b.ciphertext);
  });
});

describe('license file claims and signature', () => {
  it('carries the license in clear, or only encrypted', () => {
    const plain = licenseFileClaims({ license: license(), issuedAt: NOW, ttl: DAY });
    const iat = NOW.getTime() / 1000;
    expect(plain).toEqual({
      iss: 'tessera',
      sub: license().id,
      iat,
      nbf: iat,
      exp: iat + DAY,
      jti: expect.stringMatching(/^[\w-]{22}$/),
      ttl: DAY,
      license: license(),
    });
    const encrypted = licenseFileClaims({
      license: license(),
      issuedAt: NOW,
      ttl: DAY,
      encryptWith: newLicenseKey(),
    });
    expect(encrypted).not.toHaveProperty('license');
    expect(encrypted.enc).toMatchObject({ alg: 'A256GCM' });
    expect(encrypted.jti).not.toBe(plain.jti);
  });

  it.each(['EdDSA', 'ES256'] as const)(
    'verifies with jose (%s), and fails after any one-character change to the file',
    async (alg) => {
      const { privateKey, publicKey } =
        alg === 'EdDSA'
          ? generateKeyPairSync('ed25519')
          : generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const claims = licenseFileClaims({ license: license(), issuedAt: NOW, ttl: DAY });
      const text = armour(signJwt(alg, privateKey, claims));
      const verify = async (file: string) =>
        jwtVerify(dearmour(file), publicKey, {
          issuer: 'tessera',
          typ: LICENSE_FILE_TYP,
          algorithms: [alg],
          currentDate: NOW,
        });
      expect((await verify(text)).payload).toEqual(claims);

      const accepted: number[] = [];
      for (let i = 0; i < text.length; i++) {
        if (/\s/.test(text[i])) {
          continue; // line breaks are not part of the signed content
        }
        const altered = `${text.slice(0, i)}${text[i] === 'A' ? 'B' : 'A'}${text.slice(i + 1)}`;
        if (
          await verify(altered).then(
            () => true,
            () => false,
          )
        ) {
          accepted.push(i);
        }
      }
      expect(accepted).toEqual([]);

      // The signature's last character has spare low bits that decoders ignore: every other
      // character there must still fail (the canonical base64url check in dearmour).
      const last = text.lastIndexOf('\n-----END') - 1;
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      for (const c of alphabet.replace(text[last], '')) {
        const altered = `${text.slice(0, last)}${c}${text.slice(last + 1)}`;
        await expect(verify(altered)).rejects.toThrow();
      }
    },
  );
});

describe('license file TTL', () => {
  const open = { requireCheckIn: false, checkInIntervalSeconds: null };
  const checkIn = (seconds: number) => ({ requireCheckIn: true, checkInIntervalSeconds: seconds });

  it.each([
    ['the configured default', undefined, open, 30 * DAY],
    ['the check-in interval when shorter than the default', undefined, checkIn(2 * DAY), 2 * DAY],
    ['the default when the check-in interval is longer', undefined, checkIn(90 * DAY), 30 * DAY],
    ['a requested hour', HOUR, open, HOUR],
    ['the maximum', 365 * DAY, open, 365 * DAY],
    ['up to the check-in interval', 2 * DAY, checkIn(2 * DAY), 2 * DAY],
    [
      'any TTL when check-ins are not required',
      300 * DAY,
      { ...checkIn(DAY), requireCheckIn: false },
      300 * DAY,
    ],
  ])('gives %s', (_case, requested, policy, expected) => {
    expect(licenseFileTtl(requested, BOUNDS, policy)).toBe(expected);
  });

  it.each([
    ['below an hour', HOUR - 1, open, 'LICENSE_FILE_TTL_TOO_SHORT'],
    ['above the maximum', 365 * DAY + 1, open, 'LICENSE_FILE_TTL_TOO_LONG'],
    [
      'beyond the check-in interval',
      2 * DAY + 1,
      checkIn(2 * DAY),
      'LICENSE_FILE_TTL_EXCEEDS_CHECK_IN',
    ],
    [
      'any file when check-ins are due more often than hourly',
      undefined,
      checkIn(1_800),
      'LICENSE_FILE_TTL_EXCEEDS_CHECK_IN',
    ],
  ])('refuses %s', (_case, requested, policy, code) => {
    expect(codeOf(() => licenseFileTtl(requested, BOUNDS, policy))).toBe(code);
  });
});

describe('license key canonical form', () => {
  it('normalises random keys as typed and keeps signed keys case-sensitive', () => {
    expect(canonicalLicenseKey('abcde-fghjk o1il')).toBe('ABCDEFGHJK0111');
    const signed = 'eyJhbGciOiJFZERTQSJ9.eyJsaWQiOiJ4In0.AbC-_dEf';
    expect(canonicalLicenseKey(` ${signed.slice(0, 10)}\n${signed.slice(10)} `)).toBe(signed);
    expect(licenseKeyPrefix(signed)).toBe('AbC-_');
    expect(licenseKeyPrefix('7k2qf-abcde')).toBe('7K2QF');
  });

  it('embeds the id, times in seconds and sorted unique entitlements in a signed key', () => {
    const expiresAt = new Date(NOW.getTime() + DAY * 1000);
    const payload = signedKeyPayload('lic-1', NOW, expiresAt, ['b', 'a', 'b']);
    expect(payload).toEqual({
      lid: 'lic-1',
      iat: NOW.getTime() / 1000,
      exp: expiresAt.getTime() / 1000,
      ent: ['a', 'b'],
      jti: expect.stringMatching(/^[\w-]{22}$/),
    });
    // A perpetual license has no `exp`: JOSE libraries reject a null one.
    expect(signedKeyPayload('lic-1', NOW, null, [])).not.toHaveProperty('exp');
    expect(signedKeyPayload('lic-1', NOW, null, []).jti).not.toBe(payload.jti);
  });
});
