import { createPublicKey, randomBytes, verify } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';

import type { GeneratedKey, KeyHandle, SigningAlgorithm } from 'src/modules/signing/signer';
import type { KeyPurpose, SigningKeyEntity } from 'src/modules/signing/signing-key.entity';
import type { JwkDto, SigningKeyDto } from 'src/modules/signing/signing.dto';

/* Pure mappings of a key-ring row: its kid, its handle for a signer, its public JWK and API view. */

/** `license-20261130-3f9a1c2b`: purpose and date for people reading logs, random bits for uniqueness. */
export function newKid(purpose: KeyPurpose, now: Date): string {
  const day = now.toISOString().slice(0, 10).replace(/-/g, '');
  return `${purpose}-${day}-${randomBytes(4).toString('hex')}`;
}

/** The row of a key just generated in the signer. */
export function newKeyRow(
  key: Pick<SigningKeyEntity, 'kid' | 'purpose' | 'algorithm' | 'backend'> & {
    state: 'PENDING' | 'ACTIVE';
    now: Date;
  },
  generated: GeneratedKey,
): Omit<SigningKeyEntity, 'id' | 'version'> {
  const { now, ...fields } = key;
  return {
    ...fields,
    publicJwk: generated.publicJwk,
    hsmLabel: generated.hsmLabel,
    privateKeySealed: generated.privateKeySealed,
    createdAt: now,
    activatedAt: key.state === 'ACTIVE' ? now : null,
    retiringAt: null,
    retiredAt: null,
    revokedAt: null,
  };
}

export function handle(key: SigningKeyEntity): KeyHandle {
  return {
    kid: key.kid,
    algorithm: key.algorithm,
    hsmLabel: key.hsmLabel,
    privateKeySealed: key.privateKeySealed,
  };
}

export function toJwk(key: SigningKeyEntity): JwkDto {
  const { kty, crv, x, y } = key.publicJwk as Required<JsonWebKey>;
  return {
    kty,
    crv,
    x,
    ...(y === undefined ? {} : { y }),
    kid: key.kid,
    alg: key.algorithm,
    use: 'sig',
  };
}

export function toView(key: SigningKeyEntity): SigningKeyDto {
  return {
    kid: key.kid,
    purpose: key.purpose,
    algorithm: key.algorithm,
    backend: key.backend,
    state: key.state,
    publicJwk: toJwk(key),
    createdAt: key.createdAt.toISOString(),
    activatedAt: key.activatedAt?.toISOString() ?? null,
    retiringAt: key.retiringAt?.toISOString() ?? null,
    retiredAt: key.retiredAt?.toISOString() ?? null,
    revokedAt: key.revokedAt?.toISOString() ?? null,
  };
}

export function verifySignature(
  algorithm: SigningAlgorithm,
  publicJwk: JsonWebKey,
  message: Buffer,
  signature: Buffer,
): boolean {
  const key = createPublicKey({ key: publicJwk, format: 'jwk' });
  return algorithm === 'EdDSA'
    ? verify(null, message, key, signature)
    : verify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, signature);
}

export function base64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url');
}
