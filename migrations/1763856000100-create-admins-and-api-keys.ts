import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateAdminsAndApiKeys1763856000100 implements MigrationInterface {
  name = 'CreateAdminsAndApiKeys1763856000100';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE admins (
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        email text NOT NULL,
        name text NOT NULL,
        password_hash text NOT NULL,
        status text NOT NULL DEFAULT 'active',
        roles text[] NOT NULL,
        totp_secret_sealed text,
        totp_pending_sealed text,
        mfa_enabled_at timestamptz,
        totp_last_time_step bigint,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        version integer NOT NULL DEFAULT 1,
        CONSTRAINT pk_admins PRIMARY KEY (id),
        CONSTRAINT chk_admins_status CHECK (status IN ('active', 'disabled')),
        CONSTRAINT chk_admins_roles CHECK (cardinality(roles) > 0)
      )`);
    await db.query(`CREATE UNIQUE INDEX uq_admins_email ON admins (lower(email))`);

    await db.query(`
      CREATE TABLE admin_recovery_codes (
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        admin_id uuid NOT NULL,
        code_hash text NOT NULL,
        used_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT pk_admin_recovery_codes PRIMARY KEY (id),
        CONSTRAINT fk_admin_recovery_codes_admin FOREIGN KEY (admin_id) REFERENCES admins (id) ON DELETE CASCADE
      )`);
    await db.query(
      `CREATE UNIQUE INDEX uq_admin_recovery_codes_hash ON admin_recovery_codes (admin_id, code_hash)`,
    );

    // A session is one refresh-token family: every rotation stays in it, and reuse revokes all of it.
    await db.query(`
      CREATE TABLE admin_sessions (
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        admin_id uuid NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        last_used_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        mfa_verified_at timestamptz,
        revoked_at timestamptz,
        revoked_reason text,
        ip text,
        user_agent text,
        CONSTRAINT pk_admin_sessions PRIMARY KEY (id),
        CONSTRAINT fk_admin_sessions_admin FOREIGN KEY (admin_id) REFERENCES admins (id) ON DELETE CASCADE
      )`);
    await db.query(`CREATE INDEX idx_admin_sessions_admin_id ON admin_sessions (admin_id)`);

    await db.query(`
      CREATE TABLE refresh_tokens (
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        session_id uuid NOT NULL,
        token_hash text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        used_at timestamptz,
        CONSTRAINT pk_refresh_tokens PRIMARY KEY (id),
        CONSTRAINT uq_refresh_tokens_hash UNIQUE (token_hash),
        CONSTRAINT fk_refresh_tokens_session FOREIGN KEY (session_id) REFERENCES admin_sessions (id) ON DELETE CASCADE
      )`);

    // Failed sign-in attempts, keyed by a keyed hash of the email (known or not) or of 'mfa:<admin id>'.
    await db.query(`
      CREATE TABLE login_throttles (
        key text NOT NULL,
        failures integer NOT NULL DEFAULT 0,
        locked_until timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT pk_login_throttles PRIMARY KEY (key)
      )`);

    await db.query(`
      CREATE TABLE api_keys (
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        name text NOT NULL,
        prefix text NOT NULL,
        secret_hash text NOT NULL,
        permissions text[] NOT NULL,
        allowed_cidrs text[] NOT NULL DEFAULT '{}',
        created_by_type text NOT NULL,
        created_by_id uuid,
        expires_at timestamptz NOT NULL,
        last_used_at timestamptz,
        revoked_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT pk_api_keys PRIMARY KEY (id),
        CONSTRAINT uq_api_keys_secret_hash UNIQUE (secret_hash)
      )`);

    await db.query(`
      CREATE TABLE settings (
        key text NOT NULL,
        value jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT pk_settings PRIMARY KEY (key)
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE settings`);
    await db.query(`DROP TABLE api_keys`);
    await db.query(`DROP TABLE login_throttles`);
    await db.query(`DROP TABLE refresh_tokens`);
    await db.query(`DROP TABLE admin_sessions`);
    await db.query(`DROP TABLE admin_recovery_codes`);
    await db.query(`DROP TABLE admins`);
  }
}
