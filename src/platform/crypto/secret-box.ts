import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Authenticated encryption (AES-256-GCM) for secrets kept in the database, such as TOTP secrets. Each
 * purpose gets its own key, derived with HKDF from ENCRYPTION_KEY, and the purpose is bound as AAD, so a
 * ciphertext moved to another column does not decrypt.
 */
export class SecretBox {
  private readonly key: Buffer;

  constructor(
    masterKey: Buffer,
    private readonly purpose: string,
  ) {
    this.key = Buffer.from(
      hkdfSync('sha256', masterKey, Buffer.alloc(0), `tessera/${purpose}`, 32),
    );
  }

  seal(plaintext: string | Buffer): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(this.purpose));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return `v1.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
  }

  open(sealed: string): Buffer {
    const [version, data] = sealed.split('.');
    if (version !== 'v1' || data === undefined) {
      throw new Error('unknown sealed secret format');
    }
    const raw = Buffer.from(data, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(this.purpose));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]);
  }
}
