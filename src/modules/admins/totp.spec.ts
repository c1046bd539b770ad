import { acceptTotp, newTotpSecret, totpUri } from 'src/modules/admins/totp';
import { hotp, rfc6238 } from 'test/support/rfc6238';

describe('TOTP', () => {
  it('the independent implementation matches the RFC 6238 test vector', () => {
    // RFC 6238 appendix B: SHA-1 key "12345678901234567890", T = 59 s, 8 digits.
    expect(hotp(Buffer.from('12345678901234567890'), Math.floor(59 / 30), 8)).toBe('94287082');
  });

  it('accepts the code an authenticator computes now, and one step of drift', async () => {
    const secret = newTotpSecret();
    const now = new Date('2026-11-22T12:00:10Z');
    expect(await acceptTotp(secret, rfc6238(secret, now), null, now)).toBe(
      Math.floor(now.getTime() / 30_000),
    );
    const previous = new Date(now.getTime() - 30_000);
    expect(await acceptTotp(secret, rfc6238(secret, previous), null, now)).not.toBeNull();
  });

  it('refuses a code two steps old, a malformed code, and a wrong code', async () => {
    const secret = newTotpSecret();
    const now = new Date('2026-11-22T12:00:10Z');
    expect(
      await acceptTotp(secret, rfc6238(secret, new Date(now.getTime() - 61_000)), null, now),
    ).toBeNull();
    expect(await acceptTotp(secret, '12345', null, now)).toBeNull();
    const right = rfc6238(secret, now);
    const wrong = String((Number(right) + 1) % 1_000_000).padStart(6, '0');
    expect(await acceptTotp(secret, wrong, null, now)).toBeNull();
  });

  it('refuses a replay of an accepted time step', async () => {
    const secret = newTotpSecret();
    const now = new Date('2026-11-22T12:00:10Z');
    const step = await acceptTotp(secret, rfc6238(secret, now), null, now);
    expect(step).not.toBeNull();
    expect(await acceptTotp(secret, rfc6238(secret, now), step, now)).toBeNull();
    const later = new Date(now.getTime() + 30_000);
    expect(await acceptTotp(secret, rfc6238(secret, later), step, later)).toBe(step! + 1);
  });

  it('builds an otpauth URI for authenticator apps', () => {
    expect(totpUri('JBSWY3DPEHPK3PXP', 'owner@example.com')).toMatch(
      /^otpauth:\/\/totp\/Tessera:owner%40example\.com\?.*secret=JBSWY3DPEHPK3PXP/,
    );
  });
});
