import { Inject, Injectable } from '@nestjs/common';
import { AuthGuard, PassportStrategy } from '@nestjs/passport';
import { ExtractJwt, Strategy } from 'passport-jwt';

import { APP_CONFIG } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';
import type { AccessClaims } from 'src/modules/admins/token.service';
import { JWT_AUDIENCE, JWT_ISSUER } from 'src/modules/admins/token.service';
import { Unauthenticated } from 'src/platform/auth/auth.errors';

/** passport-jwt: verifies an access token's signature, issuer, audience, expiry and type. */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      secretOrKey: config.secrets.jwt,
      issuer: JWT_ISSUER,
      audience: JWT_AUDIENCE,
      algorithms: ['HS256'],
      ignoreExpiration: false,
    });
  }

  validate(claims: Partial<AccessClaims>): AccessClaims {
    if (
      claims.typ !== 'access' ||
      typeof claims.sub !== 'string' ||
      typeof claims.sid !== 'string'
    ) {
      throw new Unauthenticated();
    }
    return { sub: claims.sub, sid: claims.sid, typ: 'access' };
  }
}

/** Runs the strategy; any failure is the same 401 problem. */
@Injectable()
export class JwtAuthGuard extends AuthGuard('jwt') {
  override handleRequest<T>(error: unknown, claims: T | false): T {
    if (error !== null && error !== undefined) {
      throw error instanceof Unauthenticated ? error : new Unauthenticated();
    }
    if (claims === false || claims === undefined || claims === null) {
      throw new Unauthenticated();
    }
    return claims;
  }
}
