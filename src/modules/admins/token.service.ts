import { Inject, Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';

import { APP_CONFIG } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';
import { InvalidMfaChallenge } from 'src/modules/admins/admin.errors';
import { Clock } from 'src/platform/clock';

export const JWT_ISSUER = 'tessera';
export const JWT_AUDIENCE = 'tessera-admin';
const CHALLENGE_TTL_SECONDS = 300;

/** Claims of an admin access token; `typ` keeps challenge tokens from being used as access tokens. */
export interface AccessClaims {
  sub: string;
  sid: string;
  typ: 'access';
}

interface ChallengeClaims {
  sub: string;
  typ: 'mfa-challenge';
}

/** Issues the short-lived JWTs: access tokens (passport-jwt verifies them) and MFA challenge tokens. */
@Injectable()
export class TokenService {
  constructor(
    private readonly jwt: JwtService,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  accessToken(adminId: string, sessionId: string): { accessToken: string; expiresIn: number } {
    const expiresIn = this.config.auth.accessTokenTtlSeconds;
    const claims: AccessClaims = { sub: adminId, sid: sessionId, typ: 'access' };
    return { accessToken: this.sign(claims, expiresIn), expiresIn };
  }

  mfaChallenge(adminId: string): string {
    const claims: ChallengeClaims = { sub: adminId, typ: 'mfa-challenge' };
    return this.sign(claims, CHALLENGE_TTL_SECONDS);
  }

  /** The admin id of a valid, unexpired challenge token. */
  verifyMfaChallenge(token: string): string {
    try {
      const claims = this.jwt.verify<ChallengeClaims & { iat: number }>(token, {
        issuer: JWT_ISSUER,
        audience: JWT_AUDIENCE,
        algorithms: ['HS256'],
        clockTimestamp: Math.floor(this.clock.now().getTime() / 1000),
      });
      if (claims.typ !== 'mfa-challenge') {
        throw new InvalidMfaChallenge();
      }
      return claims.sub;
    } catch {
      throw new InvalidMfaChallenge();
    }
  }

  private sign(claims: object, expiresIn: number): string {
    const iat = Math.floor(this.clock.now().getTime() / 1000);
    return this.jwt.sign(
      { ...claims, iat, exp: iat + expiresIn },
      { issuer: JWT_ISSUER, audience: JWT_AUDIENCE, algorithm: 'HS256' },
    );
  }
}
