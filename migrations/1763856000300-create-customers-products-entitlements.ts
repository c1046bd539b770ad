import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateCustomersProductsEntitlements1763856000300 implements MigrationInterface {
  name = 'CreateCustomersProductsEntitlements1763856000300';

  async up(db: QueryRunner): Promise<void> {
    // An erased customer keeps its row (licenses and the audit trail point at it) but no personal data.
    await db.query(`
      CREATE TABLE customers (
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        name text NOT NULL,
        email text,
        external_id text,
        metadata jsonb NOT NULL DEFAULT '{}',
        erased_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        version integer NOT NULL DEFAULT 1,
        CONSTRAINT pk_customers PRIMARY KEY (id),
        CONSTRAINT chk_customers_metadata_object CHECK (jsonb_typeof(metadata) = 'object'),
        CONSTRAINT chk_customers_email_unless_erased CHECK (email IS NOT NULL OR erased_at IS NOT NULL),
        CONSTRAINT chk_customers_erased_has_no_personal_data CHECK (
          erased_at IS NULL OR (email IS NULL AND external_id IS NULL AND metadata = '{}'::jsonb)
        )
      )`);
    // The billing system's id identifies at most one customer; many customers have none.
    await db.query(
      `CREATE UNIQUE INDEX uq_customers_external_id ON customers (external_id) WHERE external_id IS NOT NULL`,
    );
    // text_pattern_ops serves both the exact email filter and the name/email prefix search (?q=).
    await db.query(
      `CREATE INDEX idx_customers_email ON customers (lower(email) text_pattern_ops) WHERE email IS NOT NULL`,
    );
    await db.query(`CREATE INDEX idx_customers_name ON customers (lower(name) text_pattern_ops)`);

    await db.query(`
      CREATE TABLE products (
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        code text NOT NULL,
        name text NOT NULL,
        metadata jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        version integer NOT NULL DEFAULT 1,
        CONSTRAINT pk_products PRIMARY KEY (id),
        CONSTRAINT uq_products_code UNIQUE (code),
        CONSTRAINT chk_products_code CHECK (code ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(code) <= 64),
        CONSTRAINT chk_products_metadata_object CHECK (jsonb_typeof(metadata) = 'object')
      )`);

    await db.query(`
      CREATE TABLE entitlements (
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        code text NOT NULL,
        name text NOT NULL,
        metadata jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        version integer NOT NULL DEFAULT 1,
        CONSTRAINT pk_entitlements PRIMARY KEY (id),
        CONSTRAINT uq_entitlements_code UNIQUE (code),
        CONSTRAINT chk_entitlements_code
          CHECK (code ~ '^[a-z0-9]+([.-][a-z0-9]+)*$' AND length(code) <= 100),
        CONSTRAINT chk_entitlements_metadata_object CHECK (jsonb_typeof(metadata) = 'object')
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE entitlements`);
    await db.query(`DROP TABLE products`);
    await db.query(`DROP TABLE customers`);
  }
}
