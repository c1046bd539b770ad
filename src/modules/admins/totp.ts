import { generateSecret, generateURI, verify } from 'otplib';

export const TOTP_ISSUER = 'Tessera';

export function newTotpSecret(): string {
  return generateSecret();
}

export function totpUri(secret: string, email: string): string {
  return generateURI({ issuer: TOTP_ISSUER, label: email, secret });
}

/**
 * Checks a 6-digit code with one step (30 s) of clock drift either way. Returns the accepted time step, or
 * null. A code whose step is not after `lastTimeStep` is refused: each code works once.
 */
export async function acceptTotp(
  secret: string,
  code: string,
  lastTimeStep: number | null,
  now: Date,
): Promise<number | null> {
  if (!/^\d{6}$/.test(code)) {
    return null;
  }
  const result = await verify({
    secret,
    token: code,
    epoch: Math.floor(now.getTime() / 1000),
    epochTolerance: 30,
    ...(lastTimeStep === null ? {} : { afterTimeStep: lastTimeStep }),
  });
  return result.valid && 'timeStep' in result ? result.timeStep : null;
}
