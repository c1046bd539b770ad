/**
 * Two database roles (docs/security.md, Database roles): the owner runs migrations and owns every table;
 * the runtime role, which the server's pool uses, only reads and writes rows. So a bug or an injection in
 * the server cannot alter a table, disable the audit log's triggers or rewrite the audit log: PostgreSQL
 * refuses it for lack of privilege, before any trigger runs.
 */
import { Client } from 'pg';

/** Something that runs SQL: a TypeORM DataSource or QueryRunner, or a pg client. */
interface Sql {
  query(sql: string, parameters?: unknown[]): Promise<unknown>;
}

/** The rows of a query, whether `sql` answers with rows (TypeORM) or with a result holding them (pg). */
async function select<T>(sql: Sql, text: string, parameters?: unknown[]): Promise<T[]> {
  const result = await sql.query(text, parameters);
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}

/** Row privileges the runtime role gets on every table: now, and on tables later migrations create. */
const ROW_PRIVILEGES = 'SELECT, INSERT, UPDATE, DELETE';

/**
 * What the runtime role must not do to particular tables, although it may to the others. TRUNCATE is on
 * no table's grant list, so it is refused everywhere. The audit log is append-only; its chain head only
 * ever advances (UPDATE); events waiting for the chain are inserted, then moved into it (DELETE), never
 * changed; the migration history is the owner's.
 */
export const RUNTIME_WITHHELD: Readonly<Record<string, readonly string[]>> = {
  audit_events: ['UPDATE', 'DELETE', 'TRUNCATE'],
  audit_chain_head: ['INSERT', 'DELETE', 'TRUNCATE'],
  audit_pending: ['UPDATE', 'TRUNCATE'],
  audit_checkpoints: ['UPDATE', 'DELETE', 'TRUNCATE'],
  migrations: ['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE'],
};

function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Run by the owner, right after migrations and under the same lock (concurrent GRANTs on one object fail):
 * the runtime role gets row access to every table and sequence of the schema, minus RUNTIME_WITHHELD, and
 * default privileges grant the same on whatever the owner creates later, so a new table is never left
 * without grants (and never given more than rows).
 */
export async function grantRuntimePrivileges(owner: Sql, runtimeRole: string): Promise<void> {
  const role = ident(runtimeRole);
  const [schema] = await select<{ name: string; owned: boolean }>(
    owner,
    `SELECT nspname AS name, pg_has_role(nspowner, 'USAGE') AS owned
     FROM pg_namespace WHERE oid = current_schema()::regnamespace`,
  );
  const inSchema = `IN SCHEMA ${ident(schema.name)}`;
  if (schema.owned) {
    // Otherwise the schema's owner (a DBA) decides; PUBLIC has USAGE on `public` by default.
    await owner.query(`GRANT USAGE ON SCHEMA ${ident(schema.name)} TO ${role}`);
  }
  await owner.query(`GRANT ${ROW_PRIVILEGES} ON ALL TABLES ${inSchema} TO ${role}`);
  await owner.query(`GRANT USAGE, SELECT ON ALL SEQUENCES ${inSchema} TO ${role}`);
  await owner.query(
    `ALTER DEFAULT PRIVILEGES ${inSchema} GRANT ${ROW_PRIVILEGES} ON TABLES TO ${role}`,
  );
  await owner.query(
    `ALTER DEFAULT PRIVILEGES ${inSchema} GRANT USAGE, SELECT ON SEQUENCES TO ${role}`,
  );
  for (const [table, privileges] of Object.entries(RUNTIME_WITHHELD)) {
    const [exists] = await select<{ ok: boolean }>(
      owner,
      `SELECT to_regclass($1) IS NOT NULL AS ok`,
      [table],
    );
    if (exists.ok) {
      await owner.query(`REVOKE ${privileges.join(', ')} ON ${ident(table)} FROM ${role}`);
    }
  }
}

/** The role a URL logs in as (the URL may leave the user to PGUSER or the OS user). */
export async function roleOf(url: string): Promise<string> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<{ role: string }>('SELECT current_user AS role')).rows[0].role;
  } finally {
    await client.end();
  }
}

/**
 * Why the role `sql` is connected as is too powerful to serve requests: a superuser, the owner (or a
 * member of the owner) of Tessera's tables, or allowed to change the audit log. Empty when it is not.
 */
export async function runtimeRoleProblems(sql: Sql): Promise<string[]> {
  const [row] = await select<{
    role: string;
    superuser: boolean;
    owned: string[];
    audit_privileges: string[];
  }>(
    sql,
    `
    SELECT current_user AS role,
      r.rolsuper AS superuser,
      ARRAY(
        SELECT c.relname::text FROM pg_class c
        WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
          AND pg_has_role(current_user, c.relowner, 'USAGE')
        ORDER BY c.relname
      ) AS owned,
      ARRAY(
        SELECT p FROM unnest(ARRAY['UPDATE', 'DELETE', 'TRUNCATE']) AS p
        WHERE has_table_privilege(to_regclass('audit_events'), p)
      ) AS audit_privileges
    FROM pg_roles r WHERE r.rolname = current_user`,
  );
  const role = `The database role "${row.role}" the server connects as (DATABASE_URL)`;
  const problems: string[] = [];
  if (row.superuser) {
    problems.push(
      `${role} is a superuser: it can disable the audit log's triggers and rewrite history.`,
    );
  } else {
    if (row.owned.length > 0) {
      const shown = row.owned.slice(0, 5).join(', ') + (row.owned.length > 5 ? ', …' : '');
      problems.push(
        `${role} owns ${row.owned.length} of the tables (${shown}): it can alter them and drop their triggers.`,
      );
    } else if (row.audit_privileges.length > 0) {
      problems.push(`${role} may ${row.audit_privileges.join(', ')} audit_events.`);
    }
  }
  return problems.map(
    (problem) =>
      `${problem} Connect with a role that only reads and writes rows, and run migrations as the ` +
      'owner with DATABASE_MIGRATION_URL (docs/security.md, Database roles).',
  );
}
