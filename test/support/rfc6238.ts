import { createHmac } from 'node:crypto';

/**
 * An independent RFC 6238 TOTP (HMAC-SHA1, 30 s steps), written from the RFC, to check otplib against:
 * the tests compute codes with this, as an authenticator app would.
 */
export function rfc6238(secretBase32: string, at: Date, digits = 6): string {
  const counter = Math.floor(at.getTime() / 1000 / 30);
  return hotp(base32Decode(secretBase32), counter, digits);
}

export function hotp(key: Buffer, counter: number, digits: number): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', key).update(message).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** digits).padStart(digits, '0');
}

export function base32Decode(input: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const char of input.replace(/=+$/, '').toUpperCase()) {
    const value = alphabet.indexOf(char);
    if (value < 0) {
      throw new Error(`not base32: ${char}`);
    }
    bits += value.toString(2).padStart(5, '0');
  }
  const bytes = bits.match(/.{8}/g) ?? [];
  return Buffer.from(bytes.map((b) => parseInt(b, 2)));
}
