import { Client } from 'pg';
import type { ClientBase } from 'pg';

/** The table of applied migrations: it describes the schema, restore recreates it by migrating. */
export const MIGRATIONS_TABLE = 'migrations';

export interface TableInfo {
  readonly name: string;
  /** Stored columns in order (generated columns cannot be written, so they are left out). */
  readonly columns: readonly string[];
}

/**
 * The ordinary tables of the current schema, parents before children (foreign keys), so that loading them
 * in this order never references a row that is not there yet. A cycle between tables is refused: the
 * schema has none, and restoring one would need deferrable constraints.
 */
export async function listTables(client: ClientBase): Promise<TableInfo[]> {
  const tables = await client.query<{ name: string; columns: string[] }>(
    `
    SELECT c.relname AS name,
           array_agg(a.attname::text ORDER BY a.attnum) AS columns
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                         AND a.attgenerated = ''
     WHERE n.nspname = current_schema() AND c.relkind = 'r' AND NOT c.relispartition
       AND c.relname <> $1
     GROUP BY c.relname`,
    [MIGRATIONS_TABLE],
  );
  const edges = await client.query<{ child: string; parent: string }>(`
    SELECT child.relname AS child, parent.relname AS parent
      FROM pg_constraint k
      JOIN pg_class child ON child.oid = k.conrelid
      JOIN pg_class parent ON parent.oid = k.confrelid
      JOIN pg_namespace n ON n.oid = child.relnamespace
     WHERE k.contype = 'f' AND n.nspname = current_schema() AND child.oid <> parent.oid`);
  const parents = new Map<string, Set<string>>(tables.rows.map((t) => [t.name, new Set()]));
  for (const { child, parent } of edges.rows) {
    parents.get(child)?.add(parent);
  }
  const byName = new Map(tables.rows.map((t) => [t.name, t]));
  const ordered: TableInfo[] = [];
  const done = new Set<string>();
  const visiting = new Set<string>();
  const visit = (name: string): void => {
    if (done.has(name)) {
      return;
    }
    if (visiting.has(name)) {
      throw new Error(`foreign keys form a cycle through ${name}: cannot order the tables`);
    }
    visiting.add(name);
    for (const parent of [...(parents.get(name) ?? [])].sort()) {
      visit(parent);
    }
    visiting.delete(name);
    done.add(name);
    const table = byName.get(name)!;
    ordered.push({ name: table.name, columns: table.columns });
  };
  for (const name of [...byName.keys()].sort()) {
    visit(name);
  }
  return ordered;
}

export interface SequenceState {
  readonly name: string;
  readonly value: string;
  readonly isCalled: boolean;
}

export async function readSequences(client: ClientBase): Promise<SequenceState[]> {
  const names = await client.query<{ name: string }>(
    `SELECT sequencename AS name FROM pg_sequences WHERE schemaname = current_schema() ORDER BY 1`,
  );
  const states: SequenceState[] = [];
  for (const { name } of names.rows) {
    const state = await client.query<{ value: string; is_called: boolean }>(
      `SELECT last_value::text AS value, is_called FROM ${quote(name)}`,
    );
    states.push({ name, value: state.rows[0].value, isCalled: state.rows[0].is_called });
  }
  return states;
}

/** Applied migrations, oldest first; empty when the database has never been migrated. */
export async function appliedMigrations(client: ClientBase): Promise<string[] | undefined> {
  const exists = await client.query<{ ok: boolean }>(
    `SELECT to_regclass(quote_ident(current_schema()) || '.' || quote_ident($1)) IS NOT NULL AS ok`,
    [MIGRATIONS_TABLE],
  );
  if (!exists.rows[0].ok) {
    return undefined;
  }
  const rows = await client.query<{ name: string }>(
    `SELECT name FROM ${quote(MIGRATIONS_TABLE)} ORDER BY timestamp, id`,
  );
  return rows.rows.map((r) => r.name);
}

/** A connection of its own, with no statement timeout: a copy of a large table takes as long as it takes. */
export async function connect(url: string, applicationName: string): Promise<Client> {
  const client = new Client({
    connectionString: url,
    application_name: applicationName,
    statement_timeout: 0,
  });
  await client.connect();
  return client;
}

/** A quoted identifier. */
export function quote(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

export function columnList(columns: readonly string[]): string {
  return columns.map(quote).join(', ');
}
