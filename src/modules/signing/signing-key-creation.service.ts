import { Inject, Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

import { SIGNER } from 'src/modules/signing/signer';
import type { GeneratedKey, KeyHandle, Signer, SigningAlgorithm } from 'src/modules/signing/signer';
import type { KeyPurpose, SigningKeyEntity } from 'src/modules/signing/signing-key.entity';
import { SigningKeyRepository } from 'src/modules/signing/signing-key.repository';
import { newKeyRow, newKid } from 'src/modules/signing/signing-key.view';
import { SigningMetrics } from 'src/modules/signing/signing.metrics';
import { Clock } from 'src/platform/clock';
import { Transactions } from 'src/platform/database/transaction';

/** Generates a key in the signer and inserts its row, inside `SigningKeyCreation.run`'s transaction. */
export type CreateKey = (
  purpose: KeyPurpose,
  algorithm: SigningAlgorithm,
  state: 'PENDING' | 'ACTIVE',
) => Promise<SigningKeyEntity>;

/** Key creation for the ring: a key pair in the signer and its row, never one without the other. */
@Injectable()
export class SigningKeyCreation {
  // The ring's name: these lines were the ring's before key creation had a class of its own.
  private readonly logger = new Logger('SigningService');

  constructor(
    @Inject(SIGNER) private readonly signer: Signer,
    private readonly keys: SigningKeyRepository,
    private readonly transactions: Transactions,
    private readonly metrics: SigningMetrics,
    private readonly clock: Clock,
  ) {}

  /**
   * A transaction that creates keys with `create`. Each key is generated in the signer (inside the HSM for
   * pkcs11) before its row is inserted; when the transaction fails before COMMIT (the insert, the audit row,
   * anything after), every key it generated is destroyed again, so no key stays without a row. A failed
   * COMMIT leaves its keys (the rows may exist): `npm run keys -- orphans` settles those. The shared lock,
   * held until the end, keeps the orphan sweep (exclusive) from taking a key in creation for an orphan.
   */
  async run<T>(work: (tx: EntityManager, create: CreateKey) => Promise<T>): Promise<T> {
    const generated: Pick<KeyHandle, 'kid' | 'hsmLabel'>[] = [];
    let committing = false;
    try {
      return await this.transactions.run(async (tx) => {
        await this.keys.lockKeyGeneration(tx, 'shared');
        const result = await work(tx, async (purpose, algorithm, state) => {
          const now = this.clock.now();
          const kid = newKid(purpose, now);
          const key = await this.generateInSigner(kid, algorithm);
          generated.push({ kid, hsmLabel: key.hsmLabel });
          const row = { kid, purpose, algorithm, backend: this.signer.backend, state, now };
          return this.keys.create(tx, newKeyRow(row, key));
        });
        committing = true;
        return result;
      });
    } catch (error) {
      for (const key of generated) {
        await this.discard(key, committing);
      }
      throw error;
    }
  }

  /** Generates a key pair in the signer (inside the HSM for pkcs11), timed and counted by backend. */
  private async generateInSigner(kid: string, algorithm: SigningAlgorithm): Promise<GeneratedKey> {
    const started = performance.now();
    try {
      return await this.signer.generate(kid, algorithm);
    } catch (error) {
      this.metrics.errors.generate.inc();
      throw error;
    } finally {
      this.metrics.duration.generate.observe((performance.now() - started) / 1000);
    }
  }

  private async discard(key: Pick<KeyHandle, 'kid' | 'hsmLabel'>, committing: boolean) {
    const hint = `(${key.hsmLabel ?? 'software'}): \`npm run keys -- orphans\` lists it`;
    if (committing) {
      this.logger.error(`COMMIT failed after generating ${key.kid}; kept in the signer ${hint}`);
      return;
    }
    try {
      await this.signer.destroy(key);
      this.logger.warn(`Discarded key ${key.kid} from the signer: its row was not committed`);
    } catch (error) {
      this.logger.error(`Could not discard ${key.kid} ${hint} (${(error as Error).message})`);
    }
  }
}
