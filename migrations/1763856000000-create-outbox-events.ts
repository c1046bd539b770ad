import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateOutboxEvents1763856000000 implements MigrationInterface {
  name = 'CreateOutboxEvents1763856000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE outbox_events (
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        type text NOT NULL,
        aggregate_type text NOT NULL,
        aggregate_id uuid NOT NULL,
        sequence bigint NOT NULL,
        data jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        dispatched_at timestamptz,
        CONSTRAINT pk_outbox_events PRIMARY KEY (id),
        CONSTRAINT uq_outbox_events_aggregate_sequence UNIQUE (aggregate_type, aggregate_id, sequence),
        CONSTRAINT chk_outbox_events_sequence_positive CHECK (sequence > 0)
      )`);
    // The dispatcher's queue: only events not yet fanned out, oldest first.
    await db.query(
      `CREATE INDEX idx_outbox_events_pending ON outbox_events (created_at) WHERE dispatched_at IS NULL`,
    );
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE outbox_events`);
  }
}
