import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { EntityManager } from 'typeorm';

import { ApiKeyEntity } from 'src/modules/api-keys/api-key.entity';

@Injectable()
export class ApiKeyRepository {
  constructor(private readonly dataSource: DataSource) {}

  create(tx: EntityManager, key: Partial<ApiKeyEntity>): Promise<ApiKeyEntity> {
    const repository = tx.getRepository(ApiKeyEntity);
    return repository.save(repository.create(key));
  }

  save(tx: EntityManager, key: ApiKeyEntity): Promise<ApiKeyEntity> {
    return tx.getRepository(ApiKeyEntity).save(key);
  }

  getById(tx: EntityManager | undefined, id: string, lock = false): Promise<ApiKeyEntity | null> {
    return (tx ?? this.dataSource.manager).getRepository(ApiKeyEntity).findOne({
      where: { id },
      ...(lock ? { lock: { mode: 'pessimistic_write' as const } } : {}),
    });
  }

  /** The one indexed lookup behind every API-key request. */
  getBySecretHash(secretHash: string): Promise<ApiKeyEntity | null> {
    return this.dataSource.getRepository(ApiKeyEntity).findOne({ where: { secretHash } });
  }

  findMany(limit: number, afterId: string | undefined): Promise<ApiKeyEntity[]> {
    const query = this.dataSource
      .getRepository(ApiKeyEntity)
      .createQueryBuilder('k')
      .orderBy('k.id', 'ASC')
      .take(limit);
    if (afterId !== undefined) {
      query.where('k.id > :afterId', { afterId });
    }
    return query.getMany();
  }

  /** Coalesced: only moves last_used_at forward when it is older than `staleBefore`. */
  async touch(id: string, now: Date, staleBefore: Date): Promise<void> {
    await this.dataSource.query(
      `UPDATE api_keys SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $3)`,
      [id, now, staleBefore],
    );
  }
}
