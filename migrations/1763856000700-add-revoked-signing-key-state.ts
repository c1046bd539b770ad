import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AddRevokedSigningKeyState1763856000700 implements MigrationInterface {
  name = 'AddRevokedSigningKeyState1763856000700';

  async up(db: QueryRunner): Promise<void> {
    // REVOKED: a compromised key leaves the JWKS at once, unlike RETIRED, which stays published.
    await db.query(`ALTER TABLE signing_keys ADD COLUMN revoked_at timestamptz`);
    await db.query(`ALTER TABLE signing_keys DROP CONSTRAINT chk_signing_keys_state`);
    await db.query(
      `ALTER TABLE signing_keys ADD CONSTRAINT chk_signing_keys_state
         CHECK (state IN ('PENDING', 'ACTIVE', 'RETIRING', 'RETIRED', 'REVOKED'))`,
    );
  }

  async down(db: QueryRunner): Promise<void> {
    // Without the state, a revoked key can only be retired; it becomes published again until the
    // retention period ends, so its retirement is dated back by that period's maximum.
    await db.query(
      `UPDATE signing_keys SET state = 'RETIRED', retired_at = revoked_at - interval '3650 days'
       WHERE state = 'REVOKED'`,
    );
    await db.query(`ALTER TABLE signing_keys DROP CONSTRAINT chk_signing_keys_state`);
    await db.query(
      `ALTER TABLE signing_keys ADD CONSTRAINT chk_signing_keys_state
         CHECK (state IN ('PENDING', 'ACTIVE', 'RETIRING', 'RETIRED'))`,
    );
    await db.query(`ALTER TABLE signing_keys DROP COLUMN revoked_at`);
  }
}
