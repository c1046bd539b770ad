import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { EntityManager } from 'typeorm';

import { SigningKeyEntity } from 'src/modules/signing/signing-key.entity';
import type { KeyPurpose } from 'src/modules/signing/signing-key.entity';

@Injectable()
export class SigningKeyRepository {
  constructor(private readonly dataSource: DataSource) {}

  transaction<T>(work: (tx: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

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

  /** Serialises boot-time key creation across instances starting at once. */
  async lockBootstrap(tx: EntityManager): Promise<void> {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended('signing:bootstrap', 0))`);
  }
}
