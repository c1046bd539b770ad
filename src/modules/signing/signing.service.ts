import type { JsonWebKey } from 'node:crypto';

import { Inject, Injectable, Logger } from '@nestjs/common';
import type { OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

import { APP_CONFIG } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';
import { ChangeRecorder } from 'src/modules/audit/change-recorder.service';
import { Pkcs11Signer } from 'src/modules/signing/pkcs11.signer';
import { SIGNER } from 'src/modules/signing/signer';
import type { JwksDto, SigningKeyDto } from 'src/modules/signing/signing.dto';
import {
  base64url,
  handle,
  toJwk,
  toView,
  verifySignature,
} from 'src/modules/signing/signing-key.view';
import type { Signer, SigningAlgorithm } from 'src/modules/signing/signer';
import { KEY_PURPOSES } from 'src/modules/signing/signing-key.entity';
import type {
  KeyPurpose,
  KeyState,
  SigningKeyEntity,
} from 'src/modules/signing/signing-key.entity';
import { SigningKeyCreation } from 'src/modules/signing/signing-key-creation.service';
import { SigningKeyRepository } from 'src/modules/signing/signing-key.repository';
import { SigningMetrics } from 'src/modules/signing/signing.metrics';
import {
  NoActiveSigningKey,
  SignerUnavailable,
  SigningAlgorithmNotAllowed,
  SigningKeyNotFound,
  SigningKeyStateConflict,
} from 'src/modules/signing/signing.errors';
import type { Actor } from 'src/platform/auth/actor';
import { systemActor } from 'src/platform/auth/actor';
import { Clock } from 'src/platform/clock';
import { undefinedTable } from 'src/platform/database/pg-errors';
import { Transactions } from 'src/platform/database/transaction';
import { Readiness } from 'src/platform/health/readiness';

export interface SignedJws {
  /** `header.payload.signature`. */
  readonly compact: string;
  readonly kid: string;
  readonly alg: SigningAlgorithm;
}

export interface Signature {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  readonly signature: Buffer;
}

const DAY_MS = 86_400_000;

/**
 * The key ring: which key signs for each purpose (license files and validations, webhooks, audit
 * checkpoints), rotation through PENDING -> ACTIVE -> RETIRING -> RETIRED, and signing with the active key.
 * Each instance keeps the ring in memory (signing makes no database round trip) and re-reads it
 * periodically, so a rotation made elsewhere reaches every instance within the refresh interval; until
 * then the previous key, still published, keeps signing verifiable statements.
 */
@Injectable()
export class SigningService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('SigningService');
  private active = new Map<KeyPurpose, SigningKeyEntity>();
  private byKid = new Map<string, SigningKeyEntity>();
  private refreshTimer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(SIGNER) private readonly signer: Signer,
    private readonly keys: SigningKeyRepository,
    private readonly keyCreation: SigningKeyCreation,
    private readonly transactions: Transactions,
    private readonly changes: ChangeRecorder,
    private readonly clock: Clock,
    readiness: Readiness,
    private readonly metrics: SigningMetrics,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    readiness.register('signer', async () => {
      await this.signer.check();
      const missing = KEY_PURPOSES.filter((purpose) => !this.active.has(purpose));
      if (missing.length > 0) {
        throw new Error(`no ACTIVE signing key for ${missing.join(', ')}`);
      }
    });
  }

  async onModuleInit(): Promise<void> {
    if (this.signer.backend === 'software') {
      this.logger.warn(
        'Signing keys are NOT HSM-protected: the software signer keeps them in the database, sealed ' +
          'with ENCRYPTION_KEY. Configure PKCS11_MODULE for production (docs/security.md).',
      );
    }
    if (this.signer instanceof Pkcs11Signer) {
      this.logger.log(`PKCS#11 signing mode: ${this.signer.describeMode()}`);
    }
    try {
      await this.ensureActiveKeys();
    } catch (error) {
      // With DATABASE_MIGRATE_ON_BOOT=false the schema may arrive after the boot (a separate migration
      // job): serve what needs no key, stay not-ready, and create the keys on a later refresh.
      if (!undefinedTable(error)) {
        throw error;
      }
      this.logger.error(
        'signing_keys does not exist yet: run the migrations (npm run migration:run)',
      );
    }
    this.refreshTimer = setInterval(() => {
      this.refresh().catch((error: Error) =>
        this.logger.warn(`key ring refresh failed: ${error.message}`),
      );
    }, this.config.signing.keyRingRefreshSeconds * 1000);
    this.refreshTimer.unref();
  }

  private async refresh(): Promise<void> {
    await (this.active.size < KEY_PURPOSES.length ? this.ensureActiveKeys() : this.reload());
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.refreshTimer);
    await this.signer.close();
  }

  /** Signs with the purpose's ACTIVE key. No database access: the ring is in memory. */
  async sign(purpose: KeyPurpose, message: Buffer): Promise<Signature> {
    const key = this.activeKey(purpose);
    return { kid: key.kid, alg: key.algorithm, signature: await this.signWith(key, message) };
  }

  /** A compact JWS (RFC 7515) over `payload`, with `kid` in the protected header. */
  async signJws(
    purpose: KeyPurpose,
    payload: Buffer,
    header: Record<string, unknown> = {},
  ): Promise<SignedJws> {
    const key = this.activeKey(purpose);
    const protectedHeader = base64url(
      JSON.stringify({ alg: key.algorithm, kid: key.kid, ...header }),
    );
    const signingInput = `${protectedHeader}.${base64url(payload)}`;
    const signature = await this.signWith(key, Buffer.from(signingInput));
    return {
      compact: `${signingInput}.${signature.toString('base64url')}`,
      kid: key.kid,
      alg: key.algorithm,
    };
  }

  private activeKey(purpose: KeyPurpose): SigningKeyEntity {
    const key = this.active.get(purpose);
    if (key === undefined) {
      throw new NoActiveSigningKey(purpose);
    }
    return key;
  }

  private async signWith(key: SigningKeyEntity, message: Buffer): Promise<Buffer> {
    const started = performance.now();
    try {
      return await this.signer.sign(handle(key), message);
    } catch (error) {
      this.metrics.errors.sign.inc();
      // The cause (PKCS#11 return code, token name) is for operators, not for clients.
      this.logger.error(`signing with ${key.kid} failed: ${(error as Error).message}`);
      throw new SignerUnavailable();
    } finally {
      this.metrics.duration.sign.observe((performance.now() - started) / 1000);
    }
  }

  /** The public JWKS: every key not retired, and retired ones within the publication period. */
  async jwks(): Promise<JwksDto> {
    const since = new Date(
      this.clock.now().getTime() - this.config.signing.retiredKeyPublishDays * DAY_MS,
    );
    const keys = await this.keys.findPublished(since);
    return { keys: keys.map(toJwk) };
  }

  /** Verifies a signature made by any key of the ring (published or not), e.g. an audit checkpoint. */
  async verify(kid: string, message: Buffer, signature: Buffer): Promise<boolean> {
    const key = this.byKid.get(kid) ?? (await this.keys.getByKid(undefined, kid));
    if (key === null) {
      return false;
    }
    return verifySignature(key.algorithm, key.publicJwk, message, signature);
  }

  /** Verifies a signature with a public key from outside the ring (an auditor's pinned JWKS). */
  verifyWithJwk(jwk: JsonWebKey & { alg?: string }, message: Buffer, signature: Buffer): boolean {
    return verifySignature(jwk.alg === 'ES256' ? 'ES256' : 'EdDSA', jwk, message, signature);
  }

  async list(): Promise<SigningKeyDto[]> {
    return (await this.keys.findAll()).map(toView);
  }

  async get(kid: string): Promise<SigningKeyDto> {
    const key = await this.keys.getByKid(undefined, kid);
    if (key === null) {
      throw new SigningKeyNotFound();
    }
    return toView(key);
  }

  /** Generates a key pair in the signer (inside the HSM for pkcs11) and adds it to the ring as PENDING. */
  async generate(
    actor: Actor,
    purpose: KeyPurpose,
    algorithm: SigningAlgorithm = this.defaultAlgorithm(purpose),
  ): Promise<SigningKeyDto> {
    if (purpose === 'webhook' && algorithm !== 'EdDSA') {
      throw new SigningAlgorithmNotAllowed(purpose, algorithm);
    }
    const key = await this.keyCreation.run(async (tx, create) => {
      const created = await create(purpose, algorithm, 'PENDING');
      await this.announce(tx, actor, 'signing-key.created', created);
      return created;
    });
    this.byKid.set(key.kid, key);
    return toView(key);
  }

  /** Makes `kid` the signing key of its purpose; the key it replaces becomes RETIRING (still published). */
  async activate(actor: Actor, kid: string): Promise<SigningKeyDto> {
    const key = await this.transactions.run(async (tx) => {
      // The purpose lock first (a key's purpose never changes, so an unlocked read finds it), then the
      // rows: two activations at once run one after the other, and never wait on each other's rows.
      const found = await this.keys.getByKid(tx, kid);
      if (found === null) {
        throw new SigningKeyNotFound();
      }
      await this.keys.lockPurpose(tx, found.purpose);
      const next = await this.requireKey(tx, kid);
      if (next.state !== 'PENDING' && next.state !== 'RETIRING') {
        throw new SigningKeyStateConflict(kid, next.state, 'activated');
      }
      const now = this.clock.now();
      const current = await this.keys.getActive(tx, next.purpose);
      if (current !== null) {
        current.state = 'RETIRING';
        current.retiringAt = now;
        await this.keys.save(tx, current);
        await this.announce(tx, actor, 'signing-key.retiring', current);
      }
      next.state = 'ACTIVE';
      next.activatedAt = now;
      next.retiringAt = null;
      const saved = await this.keys.save(tx, next);
      await this.announce(tx, actor, 'signing-key.activated', saved, {
        replaces: current?.kid ?? null,
      });
      return saved;
    });
    await this.reload();
    return toView(key);
  }

  /** Stops publishing the key after the retention period. The ACTIVE key must be replaced first. */
  retire(actor: Actor, kid: string): Promise<SigningKeyDto> {
    // A revoked key stays revoked: retiring it would publish it again.
    return this.end(actor, kid, 'RETIRED', ['ACTIVE', 'RETIRED', 'REVOKED']);
  }

  /**
   * For a compromised key: out of the JWKS at once, so nothing it signed verifies any more (files signed
   * before the compromise included: reissue them). The ACTIVE key must be replaced first (rotate).
   */
  revoke(actor: Actor, kid: string): Promise<SigningKeyDto> {
    return this.end(actor, kid, 'REVOKED', ['ACTIVE', 'REVOKED']);
  }

  /** Retires or revokes `kid`; refused in the `refusedIn` states (always ACTIVE: replace it first). */
  private async end(
    actor: Actor,
    kid: string,
    to: 'RETIRED' | 'REVOKED',
    refusedIn: readonly KeyState[],
  ): Promise<SigningKeyDto> {
    const verb = to.toLowerCase();
    const key = await this.transactions.run(async (tx) => {
      const key = await this.requireKey(tx, kid);
      if (refusedIn.includes(key.state)) {
        throw new SigningKeyStateConflict(
          kid,
          key.state,
          key.state === 'ACTIVE' ? `${verb} before another key is activated` : `${verb} now`,
        );
      }
      key.state = to;
      if (to === 'RETIRED') {
        key.retiredAt = this.clock.now();
      } else {
        key.revokedAt = this.clock.now();
      }
      const saved = await this.keys.save(tx, key);
      await this.announce(tx, actor, `signing-key.${verb}`, saved);
      return saved;
    });
    await this.reload();
    return toView(key);
  }

  /** Generate + activate: the routine rotation, for the API and `npm run keys -- rotate`. */
  async rotate(
    actor: Actor,
    purpose: KeyPurpose,
    algorithm?: SigningAlgorithm,
  ): Promise<SigningKeyDto> {
    const created = await this.generate(actor, purpose, algorithm);
    return this.activate(actor, created.kid);
  }

  /** Re-reads the ring from the database. */
  async reload(): Promise<void> {
    const keys = await this.keys.findAll();
    this.byKid = new Map(keys.map((key) => [key.kid, key]));
    this.active = new Map(
      keys.filter((key) => key.state === 'ACTIVE').map((key) => [key.purpose, key]),
    );
  }

  /** At boot: every purpose gets an ACTIVE key, created once even when several instances start together. */
  private async ensureActiveKeys(): Promise<void> {
    await this.reload();
    const missing = KEY_PURPOSES.filter((purpose) => !this.active.has(purpose));
    if (missing.length === 0) {
      return;
    }
    await this.keyCreation.run(async (tx, create) => {
      await this.keys.lockBootstrap(tx);
      for (const purpose of missing) {
        if ((await this.keys.getActive(tx, purpose)) !== null) {
          continue;
        }
        const key = await create(purpose, this.defaultAlgorithm(purpose), 'ACTIVE');
        this.logger.log(
          `Created the first ${purpose} signing key ${key.kid} (${key.algorithm}, ${key.backend})`,
        );
        await this.announce(tx, systemActor(), 'signing-key.activated', key, { replaces: null });
      }
    });
    await this.reload();
  }

  private defaultAlgorithm(purpose: KeyPurpose): SigningAlgorithm {
    return purpose === 'webhook' ? 'EdDSA' : this.config.signing.algorithm;
  }

  private async requireKey(tx: EntityManager, kid: string): Promise<SigningKeyEntity> {
    const key = await this.keys.getByKid(tx, kid, true);
    if (key === null) {
      throw new SigningKeyNotFound();
    }
    return key;
  }

  private async announce(
    tx: EntityManager,
    actor: Actor,
    action: string,
    key: SigningKeyEntity,
    extra: Record<string, unknown> = {},
  ): Promise<void> {
    // Audited by kid (what operators name), numbered in the stream of the row's id.
    await this.changes.record(tx, actor, {
      action,
      targetType: 'signing-key',
      targetId: key.kid,
      metadata: { purpose: key.purpose, algorithm: key.algorithm, state: key.state, ...extra },
      event: { aggregateId: key.id, data: { ...toView(key), ...extra } },
    });
  }
}
