import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';

/**
 * TLS_CERT_FILE / TLS_KEY_FILE: read and checked at boot by loadConfig, and again by the reloader on every
 * change (src/platform/http/tls-certificates.ts).
 */

/** A certificate (chain allowed, leaf first) and its private key, both PEM, checked to belong together. */
export interface TlsPair {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** SHA-256 fingerprint of the leaf certificate, `AB:CD:…` as openssl prints it. */
  readonly fingerprint: string;
  readonly subject: string;
  readonly validTo: Date;
}

export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

/** A pair that cannot be served, naming the variable whose file is at fault. */
export class TlsPairError extends Error {
  constructor(
    readonly variable: 'TLS_CERT_FILE' | 'TLS_KEY_FILE',
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

/** Reads and checks a pair; throws TlsPairError. */
export function readTlsPair(files: TlsFiles): TlsPair {
  return parseTlsPair(
    readOrFail(files.certFile, 'TLS_CERT_FILE'),
    readOrFail(files.keyFile, 'TLS_KEY_FILE'),
    files,
  );
}

function readOrFail(file: string, variable: TlsPairError['variable']): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new TlsPairError(variable, `cannot read "${file}" (${(error as Error).message})`);
  }
}

export function parseTlsPair(cert: Buffer, key: Buffer, files: TlsFiles): TlsPair {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(cert);
  } catch {
    throw new TlsPairError('TLS_CERT_FILE', `"${files.certFile}" holds no PEM certificate`);
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new TlsPairError(
      'TLS_KEY_FILE',
      `"${files.keyFile}" holds no unencrypted PEM private key`,
    );
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new TlsPairError(
      'TLS_KEY_FILE',
      `"${files.keyFile}" is not the private key of the certificate in "${files.certFile}"`,
    );
  }
  try {
    // What the server will do with it: also parses every certificate of the chain.
    createSecureContext({ cert, key });
  } catch (error) {
    throw new TlsPairError(
      'TLS_CERT_FILE',
      `"${files.certFile}" cannot be served: ${(error as Error).message}`,
    );
  }
  return {
    cert,
    key,
    fingerprint: certificate.fingerprint256,
    subject: certificate.subject.replace(/\n/g, ', '),
    validTo: new Date(certificate.validTo),
  };
}
