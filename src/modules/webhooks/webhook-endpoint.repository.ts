import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { EntityManager } from 'typeorm';

import type { DisabledReason } from 'src/modules/webhooks/webhook-endpoint.entity';
import { WebhookEndpointEntity } from 'src/modules/webhooks/webhook-endpoint.entity';

@Injectable()
export class WebhookEndpointRepository {
  constructor(private readonly dataSource: DataSource) {}

  getById(
    tx: EntityManager | undefined,
    id: string,
    lock = false,
  ): Promise<WebhookEndpointEntity | null> {
    return (tx ?? this.dataSource.manager).getRepository(WebhookEndpointEntity).findOne({
      where: { id },
      ...(lock ? { lock: { mode: 'pessimistic_write' as const } } : {}),
    });
  }

  findMany(
    filter: { enabled?: boolean },
    limit: number,
    afterId: string | undefined,
  ): Promise<WebhookEndpointEntity[]> {
    const query = this.dataSource
      .getRepository(WebhookEndpointEntity)
      .createQueryBuilder('e')
      .orderBy('e.id', 'ASC')
      .take(limit);
    if (filter.enabled !== undefined) {
      query.andWhere('e.enabled = :enabled', { enabled: filter.enabled });
    }
    if (afterId !== undefined) {
      query.andWhere('e.id > :afterId', { afterId });
    }
    return query.getMany();
  }

  create(
    tx: EntityManager,
    endpoint: Partial<WebhookEndpointEntity>,
  ): Promise<WebhookEndpointEntity> {
    const repository = tx.getRepository(WebhookEndpointEntity);
    return repository.save(repository.create(endpoint));
  }

  save(tx: EntityManager, endpoint: WebhookEndpointEntity): Promise<WebhookEndpointEntity> {
    return tx.getRepository(WebhookEndpointEntity).save(endpoint);
  }

  async delete(tx: EntityManager, id: string): Promise<void> {
    await tx.getRepository(WebhookEndpointEntity).delete({ id });
  }

  /**
   * Disables the endpoint unless it already is: of several dispatcher instances seeing the same failure,
   * exactly one gets the row back (and records the event). The version moves, so stale ETags no longer match.
   */
  async disableIfEnabled(
    tx: EntityManager,
    id: string,
    reason: DisabledReason,
    now: Date,
  ): Promise<WebhookEndpointEntity | null> {
    const rows = await tx.query<{ id: string }[]>(
      // Wrapped in a SELECT: TypeORM returns [rows, count] for a bare UPDATE.
      `WITH disabled AS (
         UPDATE webhook_endpoints
         SET enabled = false, disabled_at = $3, disabled_reason = $2, version = version + 1, updated_at = now()
         WHERE id = $1 AND enabled RETURNING id
       )
       SELECT id FROM disabled`,
      [id, reason, now],
    );
    return rows.length === 0 ? null : this.getById(tx, id);
  }
}
