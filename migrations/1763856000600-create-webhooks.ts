import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateWebhooks1763856000600 implements MigrationInterface {
  name = 'CreateWebhooks1763856000600';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE webhook_endpoints (
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        url text NOT NULL,
        description text,
        event_types text[] NOT NULL,
        enabled boolean NOT NULL DEFAULT true,
        disabled_at timestamptz,
        disabled_reason text,
        failing_since timestamptz,
        payload_version text NOT NULL,
        sign_ed25519 boolean NOT NULL DEFAULT false,
        secret_sealed text NOT NULL,
        previous_secret_sealed text,
        previous_secret_expires_at timestamptz,
        secret_rotated_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        version integer NOT NULL,
        CONSTRAINT pk_webhook_endpoints PRIMARY KEY (id),
        CONSTRAINT chk_webhook_endpoints_event_types CHECK (cardinality(event_types) > 0),
        CONSTRAINT chk_webhook_endpoints_disabled CHECK (
          (enabled AND disabled_at IS NULL AND disabled_reason IS NULL)
          OR (NOT enabled AND disabled_at IS NOT NULL AND disabled_reason IN ('manual', 'gone', 'failing'))
        ),
        CONSTRAINT chk_webhook_endpoints_previous_secret CHECK (
          (previous_secret_sealed IS NULL) = (previous_secret_expires_at IS NULL)
        )
      )`);

    await db.query(`
      CREATE TABLE webhook_deliveries (
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        endpoint_id uuid NOT NULL,
        event_id uuid NOT NULL,
        status text NOT NULL,
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz,
        locked_until timestamptz,
        claim_token uuid,
        last_attempt_at timestamptz,
        last_status_code integer,
        last_error text,
        delivered_at timestamptz,
        finished_at timestamptz,
        created_at timestamptz NOT NULL,
        CONSTRAINT pk_webhook_deliveries PRIMARY KEY (id),
        CONSTRAINT fk_webhook_deliveries_endpoint FOREIGN KEY (endpoint_id)
          REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
        CONSTRAINT fk_webhook_deliveries_event FOREIGN KEY (event_id)
          REFERENCES outbox_events (id) ON DELETE CASCADE,
        CONSTRAINT uq_webhook_deliveries_endpoint_event UNIQUE (endpoint_id, event_id),
        CONSTRAINT chk_webhook_deliveries_status CHECK (status IN ('pending', 'delivered', 'failed')),
        CONSTRAINT chk_webhook_deliveries_pending CHECK (
          (status = 'pending') = (next_attempt_at IS NOT NULL)
          AND (status = 'pending') = (finished_at IS NULL)
        ),
        CONSTRAINT chk_webhook_deliveries_attempts CHECK (attempts >= 0)
      )`);
    // The dispatcher's queue: each endpoint's due attempts in order (claims take a few per endpoint).
    await db.query(
      `CREATE INDEX idx_webhook_deliveries_due ON webhook_deliveries (endpoint_id, next_attempt_at) WHERE status = 'pending'`,
    );
    // Attempts in flight per endpoint: only leased rows carry locked_until, so this index stays tiny.
    await db.query(
      `CREATE INDEX idx_webhook_deliveries_leased ON webhook_deliveries (endpoint_id) WHERE locked_until IS NOT NULL`,
    );
    // An endpoint's delivery log, newest first (also serves recover's scan of failed deliveries).
    await db.query(
      `CREATE INDEX idx_webhook_deliveries_endpoint_created ON webhook_deliveries (endpoint_id, created_at DESC, id DESC)`,
    );
    // Retention: finished deliveries by age.
    await db.query(
      `CREATE INDEX idx_webhook_deliveries_finished ON webhook_deliveries (finished_at) WHERE status <> 'pending'`,
    );

    await db.query(`
      CREATE TABLE webhook_attempts (
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        delivery_id uuid NOT NULL,
        attempt integer NOT NULL,
        started_at timestamptz NOT NULL,
        duration_ms integer NOT NULL,
        status_code integer,
        response_body text,
        error_class text,
        error text,
        succeeded boolean NOT NULL,
        CONSTRAINT pk_webhook_attempts PRIMARY KEY (id),
        CONSTRAINT fk_webhook_attempts_delivery FOREIGN KEY (delivery_id)
          REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
        CONSTRAINT chk_webhook_attempts_response_body CHECK (octet_length(response_body) <= 2048)
      )`);
    await db.query(
      `CREATE INDEX idx_webhook_attempts_delivery ON webhook_attempts (delivery_id, started_at)`,
    );
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE webhook_attempts`);
    await db.query(`DROP TABLE webhook_deliveries`);
    await db.query(`DROP TABLE webhook_endpoints`);
  }
}
