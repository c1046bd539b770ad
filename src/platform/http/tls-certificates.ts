import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { Server as TlsServer } from 'node:tls';

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

export interface ReloaderLog {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

const EXPIRY_WARNING_DAYS = 14;

/**
 * Serves a new certificate to new connections when the files change, without a restart; open connections
 * keep the one they negotiated. The files are polled by content rather than watched: Kubernetes updates a
 * mounted Secret by swapping a symlink to a new directory and cert-manager or certbot rename files into
 * place, and an inotify watch (fs.watch) follows the old inode and goes silent after the first such
 * update. Reading two small files every few seconds costs nothing and sees every kind of replacement, even
 * one that keeps the modification time. A change is applied once the contents have been the same for two
 * polls in a row, so a certificate and key written one after the other are not taken half-way. A broken
 * pair is logged once and the previous certificate stays in service.
 */
export class CertificateReloader {
  private timer: NodeJS.Timeout | undefined;
  private applied: string;
  private pending: string | undefined;
  private rejected: string | undefined;

  constructor(
    private readonly server: Pick<TlsServer, 'setSecureContext'>,
    private readonly files: TlsFiles,
    private current: TlsPair,
    private readonly logger: ReloaderLog,
  ) {
    this.applied = digestOf(current.cert, current.key);
    this.warnIfExpiring(current);
  }

  get serving(): TlsPair {
    return this.current;
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => this.check(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One poll; public so that a test (or a SIGHUP handler) can force it. */
  check(): void {
    let cert: Buffer;
    let key: Buffer;
    try {
      cert = readFileSync(this.files.certFile);
      key = readFileSync(this.files.keyFile);
    } catch (error) {
      // Mid-swap, or deleted: keep serving, report once per distinct failure.
      this.reject(`unreadable:${(error as Error).message}`, (error as Error).message);
      return;
    }
    const digest = digestOf(cert, key);
    if (digest === this.applied) {
      this.pending = undefined;
      return;
    }
    if (digest !== this.pending) {
      this.pending = digest; // changed since the last poll: wait until it holds still
      return;
    }
    if (digest === this.rejected) {
      return;
    }
    let pair: TlsPair;
    try {
      pair = parseTlsPair(cert, key, this.files);
      this.server.setSecureContext({ cert: pair.cert, key: pair.key });
    } catch (error) {
      this.reject(digest, (error as Error).message);
      return;
    }
    this.applied = digest;
    this.pending = undefined;
    this.rejected = undefined;
    const previous = this.current.fingerprint;
    this.current = pair;
    this.logger.log(
      `TLS certificate reloaded from ${this.files.certFile}: ${pair.subject}, valid until ` +
        `${pair.validTo.toISOString()}, SHA-256 ${pair.fingerprint} (was ${previous})`,
    );
    this.warnIfExpiring(pair);
  }

  private reject(digest: string, reason: string): void {
    if (digest === this.rejected) {
      return;
    }
    this.rejected = digest;
    this.pending = undefined;
    this.logger.error(
      `TLS certificate reload failed, still serving SHA-256 ${this.current.fingerprint}: ${reason}`,
    );
  }

  private warnIfExpiring(pair: TlsPair): void {
    const daysLeft = (pair.validTo.getTime() - Date.now()) / 86_400_000;
    if (daysLeft < EXPIRY_WARNING_DAYS) {
      this.logger.warn(
        `The TLS certificate ${pair.fingerprint} expires ${pair.validTo.toISOString()} ` +
          `(${Math.max(0, Math.floor(daysLeft))} days): replace ${this.files.certFile}`,
      );
    }
  }
}

function digestOf(cert: Buffer, key: Buffer): string {
  return createHash('sha256').update(cert).update('\0').update(key).digest('hex');
}
