import { createHash } from 'node:crypto';

import * as graphene from 'graphene-pk11';

import {
  findSlot,
  loadModule,
  probeLatency,
  releaseModule,
} from 'src/modules/signing/pkcs11-module';
import type {
  GeneratedKey,
  KeyHandle,
  Signer,
  SigningAlgorithm,
  StoredKey,
} from 'src/modules/signing/signer';

/** Every token object Tessera creates is labelled `tessera-<kid>`: how `storedKeys` tells its own apart. */
export const HSM_LABEL_PREFIX = 'tessera-';

// graphene-pk11 has no EdDSA constants (PKCS#11 3.0); the numbers are from the standard.
const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
const CKM_EDDSA = 0x1057;
const CKK_EC_EDWARDS = 0x40;
const CKM_EC_KEY_PAIR_GEN = 0x1040;
// SoftHSM has no CKM_ECDSA_SHA256: the digest is computed here and CKM_ECDSA signs it (same signature).
const CKM_ECDSA = 0x1041;
const EDDSA = { mechanism: CKM_EDDSA };
const ECDSA = { mechanism: CKM_ECDSA };
// Ed25519 and raw P-256 r||s are both 64 bytes.
const SIGNATURE_BYTES = 64;
const EC_PARAMS: Record<SigningAlgorithm, Buffer> = {
  EdDSA: Buffer.from('06032b6570', 'hex'),
  ES256: Buffer.from('06082a8648ce3d030107', 'hex'),
};

// Errors after which the sessions (or the whole module) are gone and must be reopened.
const RECONNECT_ERRORS =
  /CKR_(SESSION_HANDLE_INVALID|SESSION_CLOSED|DEVICE_REMOVED|DEVICE_ERROR|TOKEN_NOT_PRESENT|CRYPTOKI_NOT_INITIALIZED|USER_NOT_LOGGED_IN|OBJECT_HANDLE_INVALID|KEY_HANDLE_INVALID|GENERAL_ERROR)/;

export interface Pkcs11Options {
  readonly modulePath: string;
  readonly tokenLabel: string;
  readonly pin: string;
  readonly poolSize: number;
  /**
   * `async`: C_Sign runs on libuv's worker threads, the pool's sessions in parallel, the event loop free
   * (for network HSMs, whose calls take milliseconds). `sync`: on the event loop, as node:crypto signs
   * (for in-process tokens such as SoftHSM, whose calls take microseconds: a thread hop costs more).
   * `auto`: `sync` when the token answers a probe within LOCAL_TOKEN_MICROS, else `async`.
   */
  readonly signMode: 'auto' | 'sync' | 'async';
  /** How long a signature may wait for a free session before failing (default 5 s). */
  readonly acquireTimeoutMs?: number;
}

interface Waiter {
  resolve: (session: graphene.Session) => void;
  reject: (error: unknown) => void;
  timer: NodeJS.Timeout;
}

const DEFAULT_ACQUIRE_TIMEOUT_MS = 5_000;

// A token in this process (SoftHSM, a PCIe card's library) answers C_GenerateRandom in a few microseconds;
// one across a network takes hundreds at least.
const LOCAL_TOKEN_MICROS = 200;

/**
 * Keys in a PKCS#11 token: generated inside it as token objects that are sensitive and not extractable, so
 * the private key never exists outside the HSM, and sign-only (no decrypt, unwrap or derive; the public half
 * neither encrypts nor wraps). Signing uses a small pool of logged-in sessions and the
 * asynchronous C_Sign, so the event loop keeps serving while the token works. After a module or token
 * error the pool is torn down and reopened once before the error is reported.
 */
export class Pkcs11Signer implements Signer {
  readonly backend = 'pkcs11';
  private module: graphene.Module | null = null;
  private sessions: graphene.Session[] = [];
  private idle: graphene.Session[] = [];
  private readonly waiting: Waiter[] = [];
  private readonly acquireTimeoutMs: number;
  /** Object handles are valid in every session of this application, so one lookup per key suffices. */
  private readonly privateKeys = new Map<string, graphene.PrivateKey>();
  private generation = 0;
  private mode: 'sync' | 'async';
  private probe: { medianMicros: number } | undefined;

  constructor(private readonly options: Pkcs11Options) {
    this.mode = options.signMode === 'sync' ? 'sync' : 'async';
    this.acquireTimeoutMs = options.acquireTimeoutMs ?? DEFAULT_ACQUIRE_TIMEOUT_MS;
  }

  /** The signing mode in use, and why (for the boot log). */
  describeMode(): string {
    return this.probe === undefined
      ? `${this.mode} (configured)`
      : `${this.mode} (auto: the token answers in ${this.probe.medianMicros.toFixed(0)} µs)`;
  }

  /** Opens the pool; throws with the reason when the module, token or PIN is wrong. */
  open(): void {
    this.module = loadModule(this.options.modulePath);
    try {
      const slot = findSlot(this.module, this.options.tokenLabel, this.options.modulePath);
      const sessions: graphene.Session[] = [];
      for (let i = 0; i < this.options.poolSize; i++) {
        sessions.push(
          slot.open(graphene.SessionFlag.SERIAL_SESSION | graphene.SessionFlag.RW_SESSION),
        );
      }
      try {
        // A login is per application and token: one session logs all of them in.
        sessions[0].login(this.options.pin, graphene.UserType.USER);
      } catch (error) {
        if (!String(error).includes('CKR_USER_ALREADY_LOGGED_IN')) {
          throw error;
        }
      }
      this.sessions = sessions;
      this.idle = [...sessions];
      this.generation++;
      if (this.options.signMode === 'auto') {
        this.probe = probeLatency(sessions[0]);
        this.mode = this.probe.medianMicros < LOCAL_TOKEN_MICROS ? 'sync' : 'async';
      }
    } catch (error) {
      this.module = null;
      releaseModule(this.options.modulePath);
      throw error;
    }
  }

  async generate(kid: string, algorithm: SigningAlgorithm): Promise<GeneratedKey> {
    const label = `${HSM_LABEL_PREFIX}${kid}`;
    const keys = await this.withSession((session) =>
      session.generateKeyPair(
        {
          name: algorithm === 'EdDSA' ? CKM_EC_EDWARDS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN,
          params: null,
        },
        {
          keyType: algorithm === 'EdDSA' ? CKK_EC_EDWARDS : graphene.KeyType.EC,
          token: true,
          private: false,
          verify: true,
          // Verification only: a signing key's public half never encrypts or wraps another key.
          encrypt: false,
          wrap: false,
          paramsEC: EC_PARAMS[algorithm],
          label,
          id: Buffer.from(kid),
        },
        {
          keyType: algorithm === 'EdDSA' ? CKK_EC_EDWARDS : graphene.KeyType.EC,
          token: true,
          private: true,
          sign: true,
          // Sign-only: a token-side decrypt, unwrap or derive with this key would turn a stolen PIN into
          // a decryption or key-agreement oracle, so the token refuses them.
          decrypt: false,
          unwrap: false,
          derive: false,
          sensitive: true,
          extractable: false,
          label,
          id: Buffer.from(kid),
        },
      ),
    );
    try {
      // CKA_EC_POINT is a DER OCTET STRING (04 len) around the raw public key.
      const point = keys.publicKey.getAttribute({ pointEC: null }).pointEC!.subarray(2);
      const publicJwk =
        algorithm === 'EdDSA'
          ? { kty: 'OKP', crv: 'Ed25519', x: point.toString('base64url') }
          : {
              kty: 'EC',
              crv: 'P-256',
              x: point.subarray(1, 33).toString('base64url'),
              y: point.subarray(33, 65).toString('base64url'),
            };
      this.privateKeys.set(kid, keys.privateKey);
      return { publicJwk, hsmLabel: label, privateKeySealed: null };
    } catch (error) {
      // A pair whose public half cannot be read will never get a row: it must not stay in the token (if
      // even that fails, `npm run keys -- orphans` finds it).
      await this.destroy({ kid, hsmLabel: label }).catch(() => undefined);
      throw error;
    }
  }

  async destroy(key: Pick<KeyHandle, 'kid' | 'hsmLabel'>): Promise<void> {
    this.privateKeys.delete(key.kid);
    const label = key.hsmLabel;
    if (label === null) {
      return;
    }
    await this.withSession((session) => {
      // Label and CKA_ID both: only the pair generated for this kid.
      for (const objectClass of [
        graphene.ObjectClass.PRIVATE_KEY,
        graphene.ObjectClass.PUBLIC_KEY,
      ]) {
        session.destroy({ class: objectClass, token: true, label, id: Buffer.from(key.kid) });
      }
    });
  }

  async storedKeys(): Promise<StoredKey[]> {
    return this.withSession((session) => {
      const pairs = new Map<
        string,
        { label: string; kid: string; objects: ('private' | 'public')[] }
      >();
      const kinds = [
        [graphene.ObjectClass.PRIVATE_KEY, 'private'],
        [graphene.ObjectClass.PUBLIC_KEY, 'public'],
      ] as const;
      for (const [objectClass, kind] of kinds) {
        const found = session.find({ class: objectClass, token: true });
        for (let i = 0; i < found.length; i++) {
          // PKCS#11 finds by exact label only: the prefix is matched here.
          const { label, id } = found.items(i).getAttribute({ label: null, id: null });
          if (typeof label !== 'string' || !label.startsWith(HSM_LABEL_PREFIX)) {
            continue;
          }
          const kid = id?.toString() ?? '';
          const pair = `${label}\n${kid}`;
          const entry = pairs.get(pair) ?? { label, kid, objects: [] };
          entry.objects.push(kind);
          pairs.set(pair, entry);
        }
      }
      return [...pairs.values()];
    });
  }

  sign(key: KeyHandle, message: Buffer): Promise<Buffer> {
    const data =
      key.algorithm === 'EdDSA' ? message : createHash('sha256').update(message).digest();
    const mechanism = key.algorithm === 'EdDSA' ? EDDSA : ECDSA;
    const signOn = (session: graphene.Session): Buffer | Promise<Buffer> => {
      // pkcs11js directly: graphene's Sign object costs more per call than a P-256 signature in SoftHSM.
      session.lib.C_SignInit(session.handle, mechanism, this.privateKey(session, key).handle);
      const signature = Buffer.alloc(SIGNATURE_BYTES);
      return this.mode === 'sync'
        ? session.lib.C_Sign(session.handle, data, signature)
        : session.lib.C_SignAsync(session.handle, data, signature);
    };
    // Synchronous signing holds a session only within this call, so one is idle unless a key is being
    // generated: take it without the pool's promises, which cost a fifth of a P-256 signature. Errors go
    // the long way, which reconnects.
    const session = this.mode === 'sync' ? this.idle.pop() : undefined;
    if (session !== undefined) {
      try {
        const signature = signOn(session) as Buffer;
        this.release(session);
        return Promise.resolve(signature);
      } catch {
        this.release(session);
      }
    }
    return this.withSession(signOn);
  }

  async check(): Promise<void> {
    // A round trip through a pooled session: fails when the module, token or session is gone.
    await this.withSession((session) => session.generateRandom(8));
  }

  close(): Promise<void> {
    this.teardown();
    return Promise.resolve();
  }

  private privateKey(session: graphene.Session, key: KeyHandle): graphene.PrivateKey {
    const cached = this.privateKeys.get(key.kid);
    if (cached !== undefined) {
      return cached;
    }
    if (key.hsmLabel === null) {
      throw new Error(`signing key ${key.kid} has no HSM label`);
    }
    const found = session.find({ class: graphene.ObjectClass.PRIVATE_KEY, label: key.hsmLabel });
    if (found.length !== 1) {
      throw new Error(
        `HSM key "${key.hsmLabel}" not found in token "${this.options.tokenLabel}" (${found.length} matches)`,
      );
    }
    const privateKey = found.items(0).toType<graphene.PrivateKey>();
    this.privateKeys.set(key.kid, privateKey);
    return privateKey;
  }

  /** Runs `work` on a pooled session; after a module/token error, reopens the pool and tries once more. */
  /**
   * Runs `work` on a pooled session. After a module/token error, the first caller of that pool generation
   * reopens it (later ones find it renewed) and the work is tried once more.
   */
  private async withSession<T>(work: (session: graphene.Session) => T | Promise<T>): Promise<T> {
    const generation = this.generation;
    try {
      return await this.borrow(work);
    } catch (error) {
      if (!RECONNECT_ERRORS.test(String(error))) {
        throw error;
      }
      if (generation === this.generation) {
        this.reconnect();
      }
      return this.borrow(work);
    }
  }

  private async borrow<T>(work: (session: graphene.Session) => T | Promise<T>): Promise<T> {
    if (this.module === null) {
      this.open();
    }
    const session = await this.acquire();
    const generation = this.generation;
    try {
      return await work(session);
    } finally {
      if (generation === this.generation) {
        this.release(session);
      }
    }
  }

  /** A free session, or the next one released; a caller that waits too long gets an error, not a hang. */
  private acquire(): Promise<graphene.Session> {
    const session = this.idle.pop();
    if (session !== undefined) {
      return Promise.resolve(session);
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiting.splice(this.waiting.indexOf(waiter), 1);
          reject(new Error(`no PKCS#11 session free within ${this.acquireTimeoutMs} ms`));
        }, this.acquireTimeoutMs),
      };
      this.waiting.push(waiter);
    });
  }

  private release(session: graphene.Session): void {
    const next = this.waiting.shift();
    if (next !== undefined) {
      clearTimeout(next.timer);
      next.resolve(session);
    } else {
      this.idle.push(session);
    }
  }

  /** Reopens the pool; if that fails (the token is still gone), every waiting caller gets the error. */
  private reconnect(): void {
    const waiting = this.waiting.splice(0);
    waiting.forEach((waiter) => clearTimeout(waiter.timer));
    this.teardown();
    try {
      // A broken library instance is finalized and loaded again, so a restarted token is found anew.
      this.open();
    } catch (error) {
      waiting.forEach((waiter) => waiter.reject(error));
      throw error;
    }
    for (const waiter of waiting) {
      this.acquire().then(waiter.resolve, waiter.reject);
    }
  }

  private teardown(): void {
    for (const session of this.sessions) {
      try {
        session.close();
      } catch {
        // The session died with the module or token; closing it is moot.
      }
    }
    this.sessions = [];
    this.idle = [];
    this.privateKeys.clear();
    if (this.module !== null) {
      this.module = null;
      releaseModule(this.options.modulePath);
    }
    this.generation++;
  }
}
