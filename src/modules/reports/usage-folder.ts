import { Inject, Injectable, Logger } from '@nestjs/common';
import type { OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';

import { SCOPED_DELTAS } from 'src/modules/reports/usage-counts';
import { APP_CONFIG } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';
import { Clock } from 'src/platform/clock';

const FOLD_INTERVAL_MS = 1_000;
const PRUNE_INTERVAL_MS = 60 * 60_000;
/** Deltas folded per statement: a backlog is taken in slices, so no fold holds its lock for long. */
const FOLD_BATCH = 20_000;
const PRUNE_BATCH = 50_000;
const DAY_MS = 86_400_000;
// One folder at a time across instances (pg_try_advisory_xact_lock): rollup upserts never interleave.
const FOLD_LOCK = 0x7e55_0f01;

/**
 * Folds usage_deltas into usage_rollups every second on whichever instance takes the lock, and prunes raw
 * validations and old rollups every hour. Readers add the deltas not folded yet (ReportRepository), so a
 * report never waits for this.
 */
@Injectable()
export class UsageFolder implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(UsageFolder.name);
  private timers: NodeJS.Timeout[] = [];
  private running: Promise<number> | null = null;

  constructor(
    private readonly dataSource: DataSource,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.timers = [
      setInterval(() => void this.fold().catch((err) => this.warn('fold', err)), FOLD_INTERVAL_MS),
      setInterval(
        () => void this.prune().catch((err) => this.warn('prune', err)),
        PRUNE_INTERVAL_MS,
      ),
    ];
    this.timers.forEach((timer) => timer.unref());
  }

  async onModuleDestroy(): Promise<void> {
    this.timers.forEach((timer) => clearInterval(timer));
    await this.running?.catch(() => undefined);
  }

  /** Folds every delta committed so far (unless another instance holds the lock); returns how many. */
  fold(): Promise<number> {
    this.running ??= this.foldAll().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async foldAll(): Promise<number> {
    let total = 0;
    for (;;) {
      const folded = await this.foldSlice();
      total += folded;
      if (folded < FOLD_BATCH) {
        return total;
      }
    }
  }

  private async foldSlice(): Promise<number> {
    return this.dataSource.transaction(async (tx) => {
      const [{ locked }] = await tx.query<Array<{ locked: boolean }>>(
        `SELECT pg_try_advisory_xact_lock($1) AS locked`,
        [FOLD_LOCK],
      );
      if (!locked) {
        return 0;
      }
      // One statement: the deltas leave and their sums arrive in the same snapshot, so a reader adding
      // rollups and deltas never counts one twice or misses it.
      const [{ folded }] = await tx.query<Array<{ folded: number }>>(
        `WITH moved AS (
           DELETE FROM usage_deltas
           WHERE id IN (SELECT id FROM usage_deltas LIMIT $1)
           RETURNING *
         ), upserted AS (
           INSERT INTO usage_rollups (scope_id, metric, bucket, dim, count)
           SELECT scope_id, metric, bucket, dim, sum(count)
           FROM (${SCOPED_DELTAS('moved')}) scoped
           GROUP BY scope_id, metric, bucket, dim
           ORDER BY scope_id, metric, bucket, dim
           ON CONFLICT (scope_id, metric, bucket, dim)
             DO UPDATE SET count = usage_rollups.count + EXCLUDED.count
         )
         SELECT count(*)::int AS folded FROM moved`,
        [FOLD_BATCH],
      );
      return folded;
    });
  }

  /**
   * Deletes raw validations older than REPORTS_RAW_RETENTION_DAYS and rollups older than
   * REPORTS_ROLLUP_RETENTION_DAYS, in slices.
   */
  async prune(): Promise<{ validations: number; rollups: number }> {
    const now = this.clock.now().getTime();
    const { rawRetentionDays, rollupRetentionDays } = this.config.reports;
    const validations = await this.deleteOlder(
      `DELETE FROM validation_events WHERE ctid = ANY (ARRAY(
         SELECT ctid FROM validation_events WHERE at < $1 LIMIT $2))`,
      new Date(now - rawRetentionDays * DAY_MS),
    );
    const rollups = await this.deleteOlder(
      `DELETE FROM usage_rollups WHERE (scope_id, metric, bucket, dim) IN (
         SELECT scope_id, metric, bucket, dim FROM usage_rollups WHERE bucket < $1 LIMIT $2)`,
      new Date(now - rollupRetentionDays * DAY_MS),
    );
    return { validations, rollups };
  }

  private async deleteOlder(sql: string, before: Date): Promise<number> {
    let total = 0;
    for (;;) {
      const [, deleted] = await this.dataSource.query<[unknown, number]>(sql, [
        before,
        PRUNE_BATCH,
      ]);
      total += deleted;
      if (deleted < PRUNE_BATCH) {
        return total;
      }
    }
  }

  private warn(job: string, error: unknown): void {
    this.logger.warn({ err: error, msg: `usage ${job} failed; will retry` });
  }
}
