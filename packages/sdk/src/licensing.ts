import { compactVerify } from 'jose';
import type { JSONWebKeySet } from 'jose';
import createClient from 'openapi-fetch';
import type { Client } from 'openapi-fetch';

import { unwrap } from './client.js';
import type { LicenseFile, Machine, Schemas } from './client.js';
import {
  canonicalKey,
  fromUtf8,
  randomNonce,
  sha256Base64url,
  toBase64url,
  utf8,
} from './encoding.js';
import { TesseraApiError, TesseraNetworkError, TesseraSignatureError } from './errors.js';
import type { paths } from './generated/openapi.js';
import { heartbeatLoop } from './heartbeat.js';
import type { HeartbeatLoop, HeartbeatOptions } from './heartbeat.js';
import { platformFetch, resilientFetch } from './http.js';
import type { Fetch } from './http.js';
import { ALGORITHMS, KeySet } from './keys.js';
import {
  CLOCK_TOLERANCE_SECONDS,
  LicenseFileError,
  signedIssueTime,
  verifyLicenseFile,
} from './license-file.js';
import type { VerifiedLicenseFile, VerifyLicenseFileOptions } from './license-file.js';
import { MemoryStore } from './store.js';
import type { LicenseStore } from './store.js';

export interface Scope {
  fingerprint?: string;
  product?: string;
  entitlements?: string[];
}

export type ValidationCode = Schemas['ValidationResultDto']['code'] | OfflineCode;
/** Answers made on this machine when the server cannot be reached. */
export type OfflineCode =
  | 'EXPIRED_OFFLINE' // the last signed answer or license file is past its TTL
  | 'OFFLINE_NO_CACHE' // nothing signed was ever stored for this key and scope
  | 'OFFLINE_CACHE_INVALID' // what was stored does not verify (edited on disk)
  | 'CLOCK_TAMPERED'; // the clock is behind a signed time already seen

export interface Validation {
  valid: boolean;
  code: ValidationCode;
  detail: string;
  license: Schemas['ValidatedLicenseDto'] | null;
  /** The signed time of the answer: the server's validation time, or the license file's issue. */
  validatedAt: Date | null;
  /** `online`: answered now. `cache`: the last signed answer, within the grace period. `license-file`. */
  source: 'online' | 'cache' | 'license-file' | 'offline';
  /** Offline answers: when this answer stops being given. */
  offlineUntil?: Date;
  /** The machine's clock is behind the latest signed time seen (set back). */
  clockTampered: boolean;
}

export interface LicensingOptions {
  baseUrl: string;
  /** A JWKS shipped with the app (`tessera keys fetch > jwks.json`). Absent: fetched from the server. */
  jwks?: JSONWebKeySet;
  /** The offline cache (default: in memory). In Node and Electron: `new FileStore(path)` from `@tessera/sdk/node`. */
  store?: LicenseStore;
  /** How long the last signed validation answers offline, from its signed time (default 24 h). */
  offlineGraceSeconds?: number;
  /** Answer offline when the server cannot be reached (default true); false: TesseraNetworkError. */
  offline?: boolean;
  /** Retries of a validation before answering offline (default 1), and the time limit of each (5 s). */
  retries?: number;
  timeoutMs?: number;
  fetch?: Fetch;
  /** The clock (tests move it). */
  now?: () => Date;
}

interface SignedAnswer {
  body: string;
  signature: string;
}

type ValidationBody = Schemas['ValidationResultDto'];

const TOLERANCE_MS = CLOCK_TOLERANCE_SECONDS * 1000;

/**
 * Licensing inside the app, with nothing but the license key: validate (signature, nonce, scope and key
 * checked on every answer), activate and deactivate this machine, heartbeats, and offline answers from
 * the last signed validation or a checked-out license file.
 */
export class Licensing {
  readonly keys: KeySet;
  private readonly api: Client<paths>;
  private readonly fetch: Fetch;
  private readonly store: LicenseStore;
  private readonly now: () => Date;
  private readonly baseUrl: string;
  private readonly graceMs: number;
  private readonly answerOffline: boolean;
  private jwksLoaded = false;
  private savedJwks: JSONWebKeySet | undefined;

  constructor(options: LicensingOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.fetch = resilientFetch(options.fetch ?? platformFetch, {
      retries: options.retries ?? 1,
      timeoutMs: options.timeoutMs ?? 5_000,
      maxDelayMs: 2_000,
    });
    this.api = createClient<paths>({ baseUrl: this.baseUrl, fetch: this.fetch });
    this.store = options.store ?? new MemoryStore();
    this.now = options.now ?? (() => new Date());
    this.graceMs = (options.offlineGraceSeconds ?? 86_400) * 1000;
    this.answerOffline = options.offline ?? true;
    this.keys = new KeySet(
      options.jwks !== undefined
        ? { pinned: options.jwks }
        : { baseUrl: this.baseUrl, fetch: this.fetch },
    );
  }

  /**
   * Validates `key` for `scope`. Online, the answer counts only if its Tessera-Signature verifies and it
   * carries our nonce, our scope and our key's digest (TesseraSignatureError otherwise, never a pass).
   * When the server cannot be reached, the last signed answer or license file answers, until its TTL.
   */
  async validate(
    key: string,
    options: { scope?: Scope; nonce?: string } = {},
  ): Promise<Validation> {
    await this.loadJwks();
    const scope = options.scope ?? {};
    const nonce = options.nonce ?? randomNonce();
    const keySha256 = await sha256Base64url(canonicalKey(key));
    let response: Response;
    try {
      response = await this.fetch(
        new Request(`${this.baseUrl}/v1/licenses/actions/validate-key`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ key, scope, nonce }),
        }),
      );
    } catch (error) {
      if (error instanceof TesseraNetworkError && this.answerOffline) {
        return this.offline(key, keySha256, scope);
      }
      throw error;
    }
    if (response.status >= 500 && this.answerOffline) {
      await response.body?.cancel();
      return this.offline(key, keySha256, scope);
    }
    const text = await response.text();
    if (response.status !== 200) {
      throw TesseraApiError.from(response, safeJson(text));
    }
    const signed = { body: text, signature: response.headers.get('tessera-signature') ?? '' };
    const body = await this.verifyAnswer(signed, keySha256, scope);
    if (body.nonce !== nonce) {
      throw new TesseraSignatureError('the answer is for another request (nonce)');
    }
    await this.store.set(
      await this.entryName('validation', keySha256, scope),
      JSON.stringify(signed),
    );
    await this.saveJwks();
    const validatedAt = new Date(body.validatedAt);
    const clockTampered = this.now().getTime() < validatedAt.getTime() - TOLERANCE_MS;
    await this.noteSignedTime(validatedAt, signed);
    return { ...decision(body), source: 'online', clockTampered };
  }

  /** Activates this machine (a seat): 422 TOO_MANY_MACHINES when the license is full. */
  activate(key: string, machine: Omit<Schemas['KeyActivationDto'], 'key'>): Promise<Machine> {
    return unwrap(
      this.api.POST('/v1/licenses/actions/activate-machine', { body: { key, ...machine } }),
    );
  }

  /** Frees this machine's seat (uninstall, move). */
  deactivate(key: string, fingerprint: string): Promise<void> {
    return unwrap(
      this.api.POST('/v1/licenses/actions/deactivate-machine', { body: { key, fingerprint } }),
    );
  }

  heartbeat(key: string, fingerprint: string): Promise<Machine> {
    return unwrap(this.api.POST('/v1/licenses/actions/heartbeat', { body: { key, fingerprint } }));
  }

  /** Heartbeats until `stop()`; failures are reported to `onError` and retried with jittered backoff. */
  startHeartbeat(key: string, fingerprint: string, options: HeartbeatOptions = {}): HeartbeatLoop {
    return heartbeatLoop(() => this.heartbeat(key, fingerprint), options);
  }

  /**
   * Checks out a license file (a machine file with `fingerprint`; encrypted with the license key with
   * `encrypt`), verifies it and stores it for offline use.
   */
  async checkOut(
    key: string,
    options: { fingerprint?: string; ttl?: number; encrypt?: boolean } = {},
  ): Promise<VerifiedLicenseFile & { certificate: string }> {
    await this.loadJwks();
    const file: LicenseFile = await unwrap(
      this.api.POST('/v1/licenses/actions/check-out', { body: { key, ...options } }),
    );
    const verified = await this.verifyLicenseFile(file.certificate, {
      licenseKey: key,
      fingerprint: options.fingerprint,
    });
    await this.storeLicenseFile(key, file.certificate);
    return { ...verified, certificate: file.certificate };
  }

  /** Stores a license file obtained otherwise (shipped, e-mailed, `tessera license-file checkout`). */
  async storeLicenseFile(key: string, certificate: string): Promise<void> {
    await this.store.set(
      await this.entryName('license-file', await sha256Base64url(canonicalKey(key))),
      certificate,
    );
  }

  /** Verifies a license file with this instance's keys and clock. */
  async verifyLicenseFile(
    certificate: string,
    options: Omit<VerifyLicenseFileOptions, 'now'> = {},
  ): Promise<VerifiedLicenseFile> {
    await this.loadJwks();
    const verified = await verifyLicenseFile(certificate, this.keys, {
      ...options,
      now: this.now(),
    });
    await this.noteSignedTime(verified.issuedAt, { file: certificate });
    return verified;
  }

  /** The entitlements of the stored license file, verified now; [] when there is none that verifies. */
  async entitlements(key: string, fingerprint?: string): Promise<string[]> {
    const file = await this.storedLicenseFile(key, fingerprint);
    return file?.entitlements ?? [];
  }

  /** The latest signed time seen on this machine (verified), against which the clock is checked. */
  async lastSignedTime(): Promise<Date | undefined> {
    const stored = safeJson(await this.store.get('clock')) as
      (SignedAnswer & { file?: undefined }) | { file: string } | undefined;
    try {
      if (stored === undefined) {
        return undefined;
      }
      if ('file' in stored && stored.file !== undefined) {
        return await signedIssueTime(stored.file, this.keys);
      }
      const body = (await this.verifySignature(stored)) as ValidationBody;
      return new Date(body.validatedAt);
    } catch {
      return undefined;
    }
  }

  private async offline(key: string, keySha256: string, scope: Scope): Promise<Validation> {
    const now = this.now();
    const nothing = { license: null, validatedAt: null, source: 'offline' as const };
    const behind = (signed: Date): Validation => ({
      ...nothing,
      valid: false,
      code: 'CLOCK_TAMPERED',
      detail: `the clock (${now.toISOString()}) is behind a signed time already seen (${signed.toISOString()})`,
      clockTampered: true,
    });
    const lastSeen = await this.lastSignedTime();
    if (lastSeen !== undefined && now.getTime() < lastSeen.getTime() - TOLERANCE_MS) {
      return behind(lastSeen);
    }
    let tampered = false;
    let expired = false;
    const stored = await this.store.get(await this.entryName('validation', keySha256, scope));
    if (stored !== undefined) {
      try {
        const body = await this.verifyAnswer(JSON.parse(stored) as SignedAnswer, keySha256, scope);
        const validatedAt = new Date(body.validatedAt);
        // The answer itself is a signed time too, should the clock entry have been removed.
        if (now.getTime() < validatedAt.getTime() - TOLERANCE_MS) {
          return behind(validatedAt);
        }
        const until = new Date(validatedAt.getTime() + this.graceMs);
        if (now < until) {
          return { ...decision(body), source: 'cache', offlineUntil: until, clockTampered: false };
        }
        expired = true;
      } catch {
        tampered = true;
      }
    }
    let fileBehind = false;
    let otherMachine = false;
    const file = await this.storedLicenseFile(key, scope.fingerprint).catch((error: unknown) => {
      if (error instanceof ExpiredFile) {
        expired = true;
      } else if (error instanceof LicenseFileError && error.reason === 'other-machine') {
        otherMachine = true;
      } else if ((error as { claim?: string }).claim === 'nbf') {
        fileBehind = true; // issued after what the clock says
      } else {
        tampered = true;
      }
      return undefined;
    });
    if (file !== undefined) {
      return { ...fileDecision(file, scope), source: 'license-file', clockTampered: false };
    }
    if (otherMachine) {
      return {
        ...nothing,
        source: 'license-file',
        valid: false,
        code: 'FINGERPRINT_SCOPE_MISMATCH',
        detail: 'the license file is bound to another machine',
        clockTampered: false,
      };
    }
    if (fileBehind) {
      return { ...behind(now), detail: 'the clock is behind the issue time of the license file' };
    }
    if (expired) {
      return {
        ...nothing,
        valid: false,
        code: 'EXPIRED_OFFLINE',
        detail: 'the server cannot be reached and the last signed answer has expired',
        clockTampered: false,
      };
    }
    return {
      ...nothing,
      valid: false,
      code: tampered ? 'OFFLINE_CACHE_INVALID' : 'OFFLINE_NO_CACHE',
      detail: tampered
        ? 'the server cannot be reached and the stored answers do not verify'
        : 'the server cannot be reached and nothing signed is stored for this key',
      clockTampered: false,
    };
  }

  /** The stored license file, verified now; undefined if none; ExpiredFile or another error otherwise. */
  private async storedLicenseFile(
    key: string,
    fingerprint: string | undefined,
  ): Promise<VerifiedLicenseFile | undefined> {
    const certificate = await this.store.get(
      await this.entryName('license-file', await sha256Base64url(canonicalKey(key))),
    );
    if (certificate === undefined) {
      return undefined;
    }
    await this.loadJwks();
    try {
      return await verifyLicenseFile(certificate, this.keys, {
        licenseKey: key,
        fingerprint,
        now: this.now(),
      });
    } catch (error) {
      if (
        (error as { code?: string }).code === 'ERR_JWT_EXPIRED' ||
        (error instanceof LicenseFileError && error.reason === 'expired')
      ) {
        throw new ExpiredFile();
      }
      throw error;
    }
  }

  /** Signature first, then the bindings to our request: key digest and scope. */
  private async verifyAnswer(
    signed: SignedAnswer,
    keySha256: string,
    scope: Scope,
  ): Promise<ValidationBody> {
    const body = (await this.verifySignature(signed)) as ValidationBody;
    if (body.keySha256 !== keySha256) {
      throw new TesseraSignatureError('the answer is for another license key');
    }
    const entitlements = scope.entitlements ?? [];
    const echoed = body.scope;
    if (
      echoed?.fingerprint !== (scope.fingerprint ?? null) ||
      echoed.product !== (scope.product ?? null) ||
      echoed.entitlements.length !== entitlements.length ||
      echoed.entitlements.some((code, i) => code !== entitlements[i])
    ) {
      throw new TesseraSignatureError('the answer is for another scope');
    }
    return body;
  }

  /** The detached JWS over the exact body bytes, with a license key of the JWKS. */
  private async verifySignature(signed: SignedAnswer): Promise<unknown> {
    const [header, empty, signature, ...rest] = signed.signature.split('.');
    if (empty !== '' || signature === undefined || rest.length > 0 || header === '') {
      throw new TesseraSignatureError('no valid Tessera-Signature on the answer');
    }
    try {
      const { payload, protectedHeader } = await compactVerify(
        `${header}.${toBase64url(utf8(signed.body))}.${signature}`,
        this.keys.key,
        { algorithms: ALGORITHMS },
      );
      if (protectedHeader.typ !== 'tessera-validation+jws') {
        throw new TesseraSignatureError(`not a validation answer (typ ${protectedHeader.typ})`);
      }
      return JSON.parse(fromUtf8(payload));
    } catch (error) {
      throw error instanceof TesseraSignatureError
        ? error
        : new TesseraSignatureError(
            `the answer's signature does not verify: ${(error as Error).message}`,
            {
              cause: error,
            },
          );
    }
  }

  /** Keeps the newest signed document seen, so a clock set back before it is noticed. */
  private async noteSignedTime(at: Date, document: SignedAnswer | { file: string }): Promise<void> {
    const last = await this.lastSignedTime();
    if (last === undefined || at > last) {
      await this.store.set('clock', JSON.stringify(document));
    }
  }

  /** A fetched JWKS is kept in the store for offline use after a restart (pinned keys need none). */
  private async loadJwks(): Promise<void> {
    if (this.jwksLoaded) {
      return;
    }
    this.jwksLoaded = true;
    if (!this.keys.pinned) {
      const stored = safeJson(await this.store.get('jwks')) as JSONWebKeySet | undefined;
      if (stored !== undefined) {
        this.keys.remember(stored);
      } else {
        await this.keys.refresh().catch(() => false);
      }
      await this.saveJwks();
    }
  }

  /** After a refresh (new kid seen), the stored copy follows. */
  private async saveJwks(): Promise<void> {
    const current = this.keys.current();
    if (!this.keys.pinned && current !== undefined && current !== this.savedJwks) {
      this.savedJwks = current;
      await this.store.set('jwks', JSON.stringify(current));
    }
  }

  private async entryName(kind: string, keySha256: string, scope?: Scope): Promise<string> {
    return `${kind}-${(await sha256Base64url(JSON.stringify([keySha256, scope ?? null]))).slice(0, 32)}`;
  }
}

class ExpiredFile extends Error {}

function safeJson(text: string | undefined): unknown {
  if (text === undefined) {
    return undefined;
  }
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function decision(body: ValidationBody): Omit<Validation, 'source' | 'clockTampered'> {
  return {
    valid: body.valid,
    code: body.code,
    detail: body.detail,
    license: body.license ?? null,
    validatedAt: new Date(body.validatedAt),
  };
}

/** What a license file says about a scope, offline: its status, product, machine and entitlements. */
function fileDecision(
  file: VerifiedLicenseFile,
  scope: Scope,
): Omit<Validation, 'source' | 'clockTampered'> {
  const { license } = file;
  const base = {
    license: null,
    validatedAt: file.issuedAt,
    offlineUntil: file.expiresAt,
  };
  const fail = (code: ValidationCode, detail: string) => ({ ...base, valid: false, code, detail });
  if (license.status === 'REVOKED' || license.status === 'SUSPENDED') {
    return fail(
      license.status,
      `the license file says the license is ${license.status.toLowerCase()}`,
    );
  }
  const policy = license.policy as { productId?: string; product?: string };
  if (scope.product !== undefined && ![policy.productId, policy.product].includes(scope.product)) {
    return fail('PRODUCT_SCOPE_MISMATCH', 'the license is for another product');
  }
  if (scope.fingerprint !== undefined && license.machine === null) {
    // A license (not machine) file proves the license, not that this machine holds a seat.
    return fail('FINGERPRINT_SCOPE_MISMATCH', 'the license file is not bound to this machine');
  }
  const missing = (scope.entitlements ?? []).filter((code) => !file.entitlements.includes(code));
  if (missing.length > 0) {
    return fail('ENTITLEMENTS_MISSING', `the license lacks ${missing.join(', ')}`);
  }
  return { ...base, valid: true, code: 'VALID', detail: 'valid (offline, from the license file)' };
}

/** True when the answer says this machine holds no seat yet: activate it, then validate again. */
export function needsActivation(result: Validation): boolean {
  return (
    result.source === 'online' &&
    ['NO_MACHINE', 'NO_MACHINES', 'FINGERPRINT_SCOPE_MISMATCH'].includes(result.code)
  );
}
