import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateSigningKeys1763856000500 implements MigrationInterface {
  name = 'CreateSigningKeys1763856000500';

  async up(db: QueryRunner): Promise<void> {
    // The key ring. Private keys are never stored here for the HSM backend (only the token object's label);
    // for the software backend they are sealed with a key derived from ENCRYPTION_KEY.
    await db.query(`
      CREATE TABLE signing_keys (
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        kid text NOT NULL,
        purpose text NOT NULL,
        algorithm text NOT NULL,
        backend text NOT NULL,
        state text NOT NULL DEFAULT 'PENDING',
        public_jwk jsonb NOT NULL,
        hsm_label text,
        private_key_sealed text,
        created_at timestamptz NOT NULL DEFAULT now(),
        activated_at timestamptz,
        retiring_at timestamptz,
        retired_at timestamptz,
        version integer NOT NULL DEFAULT 1,
        CONSTRAINT pk_signing_keys PRIMARY KEY (id),
        CONSTRAINT uq_signing_keys_kid UNIQUE (kid),
        CONSTRAINT chk_signing_keys_purpose CHECK (purpose IN ('license', 'webhook', 'audit')),
        CONSTRAINT chk_signing_keys_algorithm CHECK (algorithm IN ('EdDSA', 'ES256')),
        CONSTRAINT chk_signing_keys_backend CHECK (backend IN ('software', 'pkcs11')),
        CONSTRAINT chk_signing_keys_state CHECK (state IN ('PENDING', 'ACTIVE', 'RETIRING', 'RETIRED')),
        CONSTRAINT chk_signing_keys_material CHECK (
          (backend = 'pkcs11' AND hsm_label IS NOT NULL AND private_key_sealed IS NULL) OR
          (backend = 'software' AND private_key_sealed IS NOT NULL AND hsm_label IS NULL))
      )`);
    // Exactly one key signs for each purpose; the database enforces it under concurrent activations.
    await db.query(
      `CREATE UNIQUE INDEX uq_signing_keys_active_purpose ON signing_keys (purpose) WHERE state = 'ACTIVE'`,
    );

    // Signed statements of the audit chain head: rewriting the chain after a checkpoint breaks its signature.
    await db.query(`
      CREATE TABLE audit_checkpoints (
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        sequence bigint NOT NULL,
        hash text NOT NULL,
        kid text NOT NULL,
        algorithm text NOT NULL,
        signature text NOT NULL,
        created_at timestamptz NOT NULL,
        CONSTRAINT pk_audit_checkpoints PRIMARY KEY (id),
        CONSTRAINT fk_audit_checkpoints_kid FOREIGN KEY (kid) REFERENCES signing_keys (kid),
        CONSTRAINT chk_audit_checkpoints_hash CHECK (hash ~ '^[0-9a-f]{64}$')
      )`);
    await db.query(
      `CREATE INDEX idx_audit_checkpoints_sequence ON audit_checkpoints (sequence DESC, created_at DESC)`,
    );

    // Signed license keys: the scheme is chosen per policy.
    await db.query(
      `ALTER TABLE policies ADD COLUMN key_scheme text NOT NULL DEFAULT 'RANDOM'
         CONSTRAINT chk_policies_key_scheme CHECK (key_scheme IN ('RANDOM', 'SIGNED'))`,
    );
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE policies DROP COLUMN key_scheme`);
    await db.query(`DROP TABLE audit_checkpoints`);
    await db.query(`DROP TABLE signing_keys`);
  }
}
