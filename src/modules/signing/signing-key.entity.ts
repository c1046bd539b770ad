import { Column, Entity, PrimaryGeneratedColumn, VersionColumn } from 'typeorm';
import type { JsonWebKey } from 'node:crypto';

import type { SigningAlgorithm } from 'src/modules/signing/signer';

export const KEY_PURPOSES = ['license', 'webhook', 'audit'] as const;
export type KeyPurpose = (typeof KEY_PURPOSES)[number];

export const KEY_STATES = ['PENDING', 'ACTIVE', 'RETIRING', 'RETIRED', 'REVOKED'] as const;
export type KeyState = (typeof KEY_STATES)[number];

@Entity({ name: 'signing_keys' })
export class SigningKeyEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  /** The JWS/JWKS key id; everything Tessera signs names it. */
  @Column({ type: 'text' })
  kid: string;

  @Column({ type: 'text' })
  purpose: KeyPurpose;

  @Column({ type: 'text' })
  algorithm: SigningAlgorithm;

  @Column({ type: 'text' })
  backend: 'software' | 'pkcs11';

  @Column({ type: 'text' })
  state: KeyState;

  @Column({ type: 'jsonb' })
  publicJwk: JsonWebKey;

  @Column({ type: 'text', nullable: true })
  hsmLabel: string | null;

  @Column({ type: 'text', nullable: true })
  privateKeySealed: string | null;

  @Column({ type: 'timestamptz' })
  createdAt: Date;

  @Column({ type: 'timestamptz', nullable: true })
  activatedAt: Date | null;

  @Column({ type: 'timestamptz', nullable: true })
  retiringAt: Date | null;

  @Column({ type: 'timestamptz', nullable: true })
  retiredAt: Date | null;

  /** Revoked (compromised): out of the JWKS at once. */
  @Column({ type: 'timestamptz', nullable: true })
  revokedAt: Date | null;

  @VersionColumn()
  version: number;
}
