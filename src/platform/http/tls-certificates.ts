import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Server as TlsServer } from 'node:tls';

import { parseTlsPair } from 'src/config/tls-pair';
import type { TlsFiles, TlsPair } from 'src/config/tls-pair';

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
