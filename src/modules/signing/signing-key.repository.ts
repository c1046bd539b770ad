import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { EntityManager } from 'typeorm';

import { SigningKeyEntity } from 'src/modules/signing/signing-key.entity';
import type { KeyPurpose } from 'src/modules/signing/signing-key.entity';

@Injectable()
export class SigningKeyRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Every key that can still sign or verify: all but those retired before `retiredSince`. */
  findPublished(retiredSince: Date): Promise<SigningKeyEntity[]> {
    return this.dataSource
      .getRepository(SigningKeyEntity)
      .createQueryBuilder('k')
      .where(
        `k.state NOT IN ('RETIRED', 'REVOKED') OR (k.state = 'RETIRED' AND k.retired_at >= :retiredSince)`,
        {
          retiredSince,
        },
      )
      .orderBy('k.created_at', 'ASC')
      .getMany();
  }

  findAll(): Promise<SigningKeyEntity[]> {
    return this.dataSource.getRepository(SigningKeyEntity).find({ order: { createdAt: 'ASC' } });
  }

  getByKid(
    tx: EntityManager | undefined,
    kid: string,
    lock = false,
  ): Promise<SigningKeyEntity | null> {
    return (tx ?? this.dataSource.manager).getRepository(SigningKeyEntity).findOne({
      where: { kid },
      ...(lock ? { lock: { mode: 'pessimistic_write' as const } } : {}),
    });
  }

  getActive(tx: EntityManager, purpose: KeyPurpose): Promise<SigningKeyEntity | null> {
    return tx.getRepository(SigningKeyEntity).findOne({
      where: { purpose, state: 'ACTIVE' },
      lock: { mode: 'pessimistic_write' },
    });
  }

  create(
    tx: EntityManager,
    key: Omit<SigningKeyEntity, 'id' | 'version'>,
  ): Promise<SigningKeyEntity> {
    const repository = tx.getRepository(SigningKeyEntity);
    return repository.save(repository.create(key));
  }

  save(tx: EntityManager, key: SigningKeyEntity): Promise<SigningKeyEntity> {
    return tx.getRepository(SigningKeyEntity).save(key);
  }

  /** Serialises changes of which key signs for `purpose` (two activations at once would both see one). */
  async lockPurpose(tx: EntityManager, purpose: KeyPurpose): Promise<void> {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [`signing:${purpose}`]);
  }

  /**
   * Held shared by every transaction that generates keys, until it ends, and exclusively by the orphan
   * sweep: the sweep sees no key between its generation and its row's commit.
   */
  async lockKeyGeneration(tx: EntityManager, mode: 'shared' | 'exclusive'): Promise<void> {
    const lock = mode === 'shared' ? 'pg_advisory_xact_lock_shared' : 'pg_advisory_xact_lock';
    await tx.query(`SELECT ${lock}(hashtextextended('signing:keygen', 0))`);
  }

  /** The kid and HSM label of every key of the ring, whatever its state. */
  findHandles(tx: EntityManager): Promise<{ kid: string; hsmLabel: string | null }[]> {
    return tx.getRepository(SigningKeyEntity).find({ select: { kid: true, hsmLabel: true } });
  }

  /** Serialises boot-time key creation across instances starting at once. */
  async lockBootstrap(tx: EntityManager): Promise<void> {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended('signing:bootstrap', 0))`);
  }
}
