import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Reports (docs/reports.md): what happened is counted in usage_deltas, by the writer's own transaction
 * (insert only, so writers never wait for each other), and folded into usage_rollups, 15-minute buckets
 * per scope, by one instance at a time. Raw validations are kept in validation_events for a shorter time.
 */
export class CreateReports1763856000900 implements MigrationInterface {
  name = 'CreateReports1763856000900';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE usage_deltas (
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        at timestamptz NOT NULL,
        metric text NOT NULL,
        dim text NOT NULL,
        policy_id uuid,
        customer_id uuid,
        count integer NOT NULL,
        -- When it was written (at is when it happened: an undone expiry's may be days old), for the
        -- fold-backlog gauge.
        recorded_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT pk_usage_deltas PRIMARY KEY (id),
        CONSTRAINT chk_usage_deltas_count CHECK (count > 0)
      )`);
    // scope_id: the product, policy or customer counted, or the nil uuid for everything. Every filtered
    // report is one primary-key range: (scope, metric, buckets in the range), read by an index-only scan
    // (count is in the index): 90 days of one scope is ~35 000 entries in a few hundred index pages, where
    // reading the heap would touch a page per row. Autovacuum keeps the visibility map current early.
    await db.query(`
      CREATE TABLE usage_rollups (
        scope_id uuid NOT NULL,
        metric text NOT NULL,
        bucket timestamptz NOT NULL,
        dim text NOT NULL,
        count bigint NOT NULL,
        CONSTRAINT pk_usage_rollups PRIMARY KEY (scope_id, metric, bucket, dim) INCLUDE (count),
        CONSTRAINT chk_usage_rollups_bucket
          CHECK (bucket = date_bin('15 minutes', bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00'))
      ) WITH (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_insert_scale_factor = 0.02)`);
    await db.query(`CREATE INDEX idx_usage_rollups_bucket ON usage_rollups (bucket)`);
    // Append-only and read by time (the export streams it in order, the prune deletes the oldest): a
    // btree on an increasing key only ever appends to its right edge, once per row of the 5 s flush.
    await db.query(`
      CREATE TABLE validation_events (
        at timestamptz NOT NULL,
        code text NOT NULL,
        license_id uuid,
        policy_id uuid,
        product_id uuid,
        customer_id uuid,
        fingerprint text
      )`);
    await db.query(`CREATE INDEX idx_validation_events_at ON validation_events (at)`);

    await db.query(`ALTER TABLE machines ADD COLUMN version text, ADD COLUMN country text`);
    await db.query(`CREATE INDEX idx_licenses_expires_at ON licenses (expires_at)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX idx_licenses_expires_at`);
    await db.query(`ALTER TABLE machines DROP COLUMN version, DROP COLUMN country`);
    await db.query(`DROP TABLE validation_events`);
    await db.query(`DROP TABLE usage_rollups`);
    await db.query(`DROP TABLE usage_deltas`);
  }
}
