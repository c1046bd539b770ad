import { createLocalJWKSet, errors } from 'jose';
import type { JSONWebKeySet, JWTVerifyGetKey } from 'jose';

import { TesseraSignatureError } from './errors.js';
import type { Fetch } from './http.js';

/** Tessera signs with these only; anything else in a header is refused before any key is looked at. */
export const ALGORITHMS = ['EdDSA', 'ES256'];

/**
 * The keys answers are checked against. Pinned: a JWKS the vendor ships with the app (`tessera keys
 * fetch > jwks.json`), never replaced. Fetched: `GET /v1/keys` once, cached, and fetched again when an
 * answer names a kid the cache lacks (a rotation), at most once a minute.
 */
export class KeySet {
  private jwks: JSONWebKeySet | undefined;
  private lookup: JWTVerifyGetKey | undefined;
  private lastFetch = -Infinity;

  constructor(
    private readonly source:
      { pinned: JSONWebKeySet } | { baseUrl: string; fetch: Fetch; refreshIntervalMs?: number },
  ) {
    if ('pinned' in source) {
      this.use(source.pinned);
    }
  }

  get pinned(): boolean {
    return 'pinned' in this.source;
  }

  /** The JWKS in use, for the offline cache. */
  current(): JSONWebKeySet | undefined {
    return this.jwks;
  }

  /** A fetched set remembered from an earlier run; pinned keys are never replaced. */
  remember(jwks: JSONWebKeySet): void {
    if (!this.pinned && this.jwks === undefined) {
      this.use(jwks);
    }
  }

  /** A key lookup for jose: unknown kid → one refresh, then TesseraSignatureError. */
  readonly key: JWTVerifyGetKey = async (header, token) => {
    if (this.lookup === undefined) {
      await this.refresh();
    }
    if (this.lookup === undefined) {
      throw new TesseraSignatureError('no keys to verify with: pin a JWKS or go online once');
    }
    try {
      return await this.lookup(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey) || !(await this.refresh())) {
        throw error;
      }
      return this.lookup(header, token);
    }
  };

  /** Fetches the JWKS again (unless pinned or fetched within the interval); true if it did. */
  async refresh(): Promise<boolean> {
    const source = this.source;
    const interval = 'pinned' in source ? Infinity : (source.refreshIntervalMs ?? 60_000);
    if ('pinned' in source || Date.now() - this.lastFetch < interval) {
      return false;
    }
    this.lastFetch = Date.now();
    const response = await source.fetch(new Request(`${source.baseUrl}/v1/keys`));
    if (!response.ok) {
      throw new TesseraSignatureError(`GET /v1/keys answered ${response.status}`);
    }
    this.use((await response.json()) as JSONWebKeySet);
    return true;
  }

  private use(jwks: JSONWebKeySet): void {
    if (!Array.isArray(jwks?.keys)) {
      throw new TesseraSignatureError('not a JWKS: no "keys" array');
    }
    this.jwks = jwks;
    this.lookup = createLocalJWKSet(jwks);
  }
}
