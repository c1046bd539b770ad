import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateLicensing1763856000400 implements MigrationInterface {
  name = 'CreateLicensing1763856000400';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE policies (
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        product_id uuid NOT NULL,
        name text NOT NULL,
        duration_seconds integer,
        expiration_strategy text NOT NULL DEFAULT 'RESTRICT_ACCESS',
        floating boolean NOT NULL DEFAULT false,
        max_machines integer,
        overage_strategy text NOT NULL DEFAULT 'NO_OVERAGE',
        require_heartbeat boolean NOT NULL DEFAULT false,
        heartbeat_duration_seconds integer,
        require_check_in boolean NOT NULL DEFAULT false,
        check_in_interval_seconds integer,
        max_uses integer,
        metadata jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        version integer NOT NULL DEFAULT 1,
        CONSTRAINT pk_policies PRIMARY KEY (id),
        CONSTRAINT fk_policies_product FOREIGN KEY (product_id) REFERENCES products (id) ON DELETE RESTRICT,
        CONSTRAINT chk_policies_expiration_strategy
          CHECK (expiration_strategy IN ('RESTRICT_ACCESS', 'REVOKE_ACCESS', 'MAINTAIN_ACCESS', 'ALLOW_ACCESS')),
        CONSTRAINT chk_policies_overage_strategy
          CHECK (overage_strategy IN ('NO_OVERAGE', 'ALLOW_1_25X', 'ALLOW_1_5X', 'ALLOW_2X', 'ALWAYS_ALLOW')),
        CONSTRAINT chk_policies_positive CHECK (
          (duration_seconds IS NULL OR duration_seconds > 0) AND (max_machines IS NULL OR max_machines > 0)
          AND (heartbeat_duration_seconds IS NULL OR heartbeat_duration_seconds > 0)
          AND (check_in_interval_seconds IS NULL OR check_in_interval_seconds > 0)
          AND (max_uses IS NULL OR max_uses >= 0))
      )`);
    await db.query(`CREATE INDEX idx_policies_product_id ON policies (product_id)`);
    await db.query(`
      CREATE TABLE policy_entitlements (
        policy_id uuid NOT NULL,
        entitlement_id uuid NOT NULL,
        CONSTRAINT pk_policy_entitlements PRIMARY KEY (policy_id, entitlement_id),
        CONSTRAINT fk_policy_entitlements_policy FOREIGN KEY (policy_id) REFERENCES policies (id) ON DELETE CASCADE,
        CONSTRAINT fk_policy_entitlements_entitlement FOREIGN KEY (entitlement_id) REFERENCES entitlements (id) ON DELETE RESTRICT
      )`);

    await db.query(`
      CREATE TABLE licenses (
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        policy_id uuid NOT NULL,
        customer_id uuid NOT NULL,
        key_hash text NOT NULL,
        key_prefix text NOT NULL,
        name text,
        status text NOT NULL DEFAULT 'ACTIVE',
        expires_at timestamptz,
        max_machines_override integer,
        max_uses_override integer,
        uses integer NOT NULL DEFAULT 0,
        last_check_in_at timestamptz,
        last_validated_at timestamptz,
        metadata jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        version integer NOT NULL DEFAULT 1,
        CONSTRAINT pk_licenses PRIMARY KEY (id),
        CONSTRAINT uq_licenses_key_hash UNIQUE (key_hash),
        CONSTRAINT fk_licenses_policy FOREIGN KEY (policy_id) REFERENCES policies (id) ON DELETE RESTRICT,
        CONSTRAINT fk_licenses_customer FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE RESTRICT,
        CONSTRAINT chk_licenses_status CHECK (status IN ('ACTIVE', 'SUSPENDED', 'REVOKED')),
        CONSTRAINT chk_licenses_uses CHECK (uses >= 0),
        CONSTRAINT chk_licenses_overrides CHECK (
          (max_machines_override IS NULL OR max_machines_override > 0) AND (max_uses_override IS NULL OR max_uses_override >= 0))
      )`);
    await db.query(`CREATE INDEX idx_licenses_customer_id ON licenses (customer_id)`);
    await db.query(`CREATE INDEX idx_licenses_policy_id ON licenses (policy_id)`);
    await db.query(`
      CREATE TABLE license_entitlements (
        license_id uuid NOT NULL,
        entitlement_id uuid NOT NULL,
        CONSTRAINT pk_license_entitlements PRIMARY KEY (license_id, entitlement_id),
        CONSTRAINT fk_license_entitlements_license FOREIGN KEY (license_id) REFERENCES licenses (id) ON DELETE CASCADE,
        CONSTRAINT fk_license_entitlements_entitlement FOREIGN KEY (entitlement_id) REFERENCES entitlements (id) ON DELETE RESTRICT
      )`);

    await db.query(`
      CREATE TABLE machines (
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        license_id uuid NOT NULL,
        fingerprint text NOT NULL,
        name text,
        platform text,
        hostname text,
        cores integer,
        last_heartbeat_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT pk_machines PRIMARY KEY (id),
        CONSTRAINT uq_machines_license_fingerprint UNIQUE (license_id, fingerprint),
        CONSTRAINT fk_machines_license FOREIGN KEY (license_id) REFERENCES licenses (id) ON DELETE CASCADE
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE machines`);
    await db.query(`DROP TABLE license_entitlements`);
    await db.query(`DROP TABLE licenses`);
    await db.query(`DROP TABLE policy_entitlements`);
    await db.query(`DROP TABLE policies`);
  }
}
