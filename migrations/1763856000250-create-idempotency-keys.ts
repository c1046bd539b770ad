import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateIdempotencyKeys1763856000250 implements MigrationInterface {
  name = 'CreateIdempotencyKeys1763856000250';

  async up(db: QueryRunner): Promise<void> {
    // Idempotency-Key records: the first response to a keyed request, replayed for 24 h.
    await db.query(`
      CREATE TABLE idempotency_keys (
        scope text NOT NULL,
        key text NOT NULL,
        request_hash text NOT NULL,
        state text NOT NULL,
        response_status integer,
        response_body jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        CONSTRAINT pk_idempotency_keys PRIMARY KEY (scope, key),
        CONSTRAINT chk_idempotency_keys_state CHECK (state IN ('in-progress', 'completed'))
      )`);
    await db.query(`CREATE INDEX idx_idempotency_keys_expires_at ON idempotency_keys (expires_at)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE idempotency_keys`);
  }
}
