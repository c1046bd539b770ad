import type { JsonWebKey } from 'node:crypto';

export type SigningAlgorithm = 'EdDSA' | 'ES256';

/** A new key pair: the public half as a JWK, and how the signer finds the private half again. */
export interface GeneratedKey {
  readonly publicJwk: JsonWebKey;
  /** pkcs11: the token object's label (also its CKA_ID). */
  readonly hsmLabel: string | null;
  /** software: the PKCS#8 private key sealed with a key derived from ENCRYPTION_KEY. */
  readonly privateKeySealed: string | null;
}

/** What a signer needs to find a private key it generated. */
export interface KeyHandle {
  readonly kid: string;
  readonly algorithm: SigningAlgorithm;
  readonly hsmLabel: string | null;
  readonly privateKeySealed: string | null;
}

/** A key the signer keeps outside the database (a token object pair), found by its label. */
export interface StoredKey {
  readonly label: string;
  /** CKA_ID: the kid the key was generated for. */
  readonly kid: string;
  readonly objects: readonly ('private' | 'public')[];
}

/**
 * Where private keys live and how they sign. Two real implementations: `Pkcs11Signer` (an HSM; Tessera
 * never sees key bytes) and `SoftwareSigner` (keys sealed at rest, for development). Signatures are in JWS
 * form: Ed25519 64 bytes, ES256 raw r||s over SHA-256.
 */
export interface Signer {
  readonly backend: 'software' | 'pkcs11';
  generate(kid: string, algorithm: SigningAlgorithm): Promise<GeneratedKey>;
  sign(key: KeyHandle, message: Buffer): Promise<Buffer>;
  /**
   * Undoes `generate`: nothing of the key stays in the signer (token objects, cached handles). For a key
   * whose row never committed, and for orphans no row names; never for a key of the ring.
   */
  destroy(key: Pick<KeyHandle, 'kid' | 'hsmLabel'>): Promise<void>;
  /** The keys Tessera generated that live outside the database (none for the software signer). */
  storedKeys(): Promise<StoredKey[]>;
  /** Throws when the signer cannot sign (HSM unreachable, token missing): the readiness check. */
  check(): Promise<void>;
  close(): Promise<void>;
}

export const SIGNER = Symbol('SIGNER');
