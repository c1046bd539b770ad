// Byte helpers on WebCrypto and the encoding APIs only, so that the SDK's core runs in browsers too.
import { base64url } from 'jose';

const encoder = new TextEncoder();

/** Bytes on a plain ArrayBuffer: what WebCrypto takes. */
export type Bytes = Uint8Array<ArrayBuffer>;

export const utf8 = (text: string): Bytes => new Uint8Array(encoder.encode(text));
export const fromUtf8 = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
export const toBase64url = (bytes: Uint8Array): string => base64url.encode(bytes);
export const fromBase64url = (text: string): Bytes => new Uint8Array(base64url.decode(text));

/** base64url without padding of SHA-256(text as UTF-8). */
export async function sha256Base64url(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', utf8(text));
  return toBase64url(new Uint8Array(digest));
}

/** 128 random bits, base64url: a fresh nonce for every validation. */
export function randomNonce(): string {
  return toBase64url(crypto.getRandomValues(new Uint8Array(16)));
}

/** The license key as Tessera reads it: signed keys lose whitespace; random keys are normalised as typed. */
export function canonicalKey(key: string): string {
  return key.includes('.')
    ? key.replace(/\s/g, '')
    : key.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
}
