import { createPrivateKey, generateKeyPairSync, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

import type {
  GeneratedKey,
  KeyHandle,
  Signer,
  SigningAlgorithm,
  StoredKey,
} from 'src/modules/signing/signer';
import { SecretBox } from 'src/platform/crypto/secret-box';

/**
 * Keys generated and used in this process. The private key is stored only sealed (AES-256-GCM under a key
 * derived from ENCRYPTION_KEY, bound to its kid), so the database or a backup alone does not reveal it;
 * whoever holds both the database and ENCRYPTION_KEY does. Use an HSM in production (docs/security.md).
 */
export class SoftwareSigner implements Signer {
  readonly backend = 'software';
  private readonly box: SecretBox;
  /** Parsed keys by kid: parsing PKCS#8 on every signature would cost more than the signature. */
  private readonly keys = new Map<string, KeyObject>();

  constructor(encryptionKey: Buffer) {
    this.box = new SecretBox(encryptionKey, 'signing-keys');
  }

  generate(kid: string, algorithm: SigningAlgorithm): Promise<GeneratedKey> {
    const { privateKey, publicKey } =
      algorithm === 'EdDSA'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
    this.keys.set(kid, privateKey);
    return Promise.resolve({
      publicJwk: publicKey.export({ format: 'jwk' }),
      hsmLabel: null,
      privateKeySealed: this.box.seal(Buffer.concat([Buffer.from(`${kid}\n`), pkcs8])),
    });
  }

  sign(key: KeyHandle, message: Buffer): Promise<Buffer> {
    const privateKey = this.keys.get(key.kid) ?? this.unseal(key);
    return Promise.resolve(
      key.algorithm === 'EdDSA'
        ? sign(null, message, privateKey)
        : sign('sha256', message, { key: privateKey, dsaEncoding: 'ieee-p1363' }),
    );
  }

  /** The only trace of a generated key outside its row is the parsed key in memory. */
  destroy(key: Pick<KeyHandle, 'kid'>): Promise<void> {
    this.keys.delete(key.kid);
    return Promise.resolve();
  }

  /** Keys live only in their rows (sealed): nothing can be orphaned outside the database. */
  storedKeys(): Promise<StoredKey[]> {
    return Promise.resolve([]);
  }

  check(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.keys.clear();
    return Promise.resolve();
  }

  private unseal(key: KeyHandle): KeyObject {
    if (key.privateKeySealed === null) {
      throw new Error(`signing key ${key.kid} has no software key material`);
    }
    const plain = this.box.open(key.privateKeySealed);
    const newline = plain.indexOf(0x0a);
    // The kid is sealed with the key, so a sealed key copied onto another row does not sign as that row.
    if (plain.subarray(0, newline).toString() !== key.kid) {
      throw new Error(`sealed key material does not belong to ${key.kid}`);
    }
    const privateKey = createPrivateKey({
      key: plain.subarray(newline + 1),
      format: 'der',
      type: 'pkcs8',
    });
    this.keys.set(key.kid, privateKey);
    return privateKey;
  }
}
