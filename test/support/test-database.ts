import { randomUUID } from 'node:crypto';

import { Client } from 'pg';

import { EMBEDDED_OWNER_ROLE, withDatabase } from 'src/platform/database/embedded-postgres';

export const TEMPLATE_DATABASE = 'tessera_template';

/** The run's roles (set by global-setup): the superuser administers, the owner migrates, the runtime role serves. */
type TestRole = 'superuser' | 'owner' | 'runtime';

const ROLE_VARIABLES: Record<TestRole, string> = {
  superuser: 'TESSERA_TEST_SERVER_URL',
  owner: 'TESSERA_TEST_OWNER_URL',
  runtime: 'TESSERA_TEST_RUNTIME_URL',
};

function roleUrl(role: TestRole): string {
  const url = process.env[ROLE_VARIABLES[role]];
  if (url === undefined) {
    throw new Error(
      `${ROLE_VARIABLES[role]} is not set: run the tests through jest (global-setup starts PostgreSQL)`,
    );
  }
  return url;
}

/** The embedded server started by global-setup for this run, as its superuser. */
export function serverUrl(): string {
  return roleUrl('superuser');
}

/** The same database as `url` (a test database's), logged in as another of the run's roles. */
export function asRole(url: string, role: TestRole): string {
  return withDatabase(roleUrl(role), new URL(url).pathname.slice(1));
}

export function adminQuery<T = unknown>(sql: string, params: unknown[] = []): Promise<T[]> {
  return queryDatabase<T>(serverUrl(), sql, params);
}

/** One statement on a connection of its own (for checks from outside the application). */
export async function queryDatabase<T = unknown>(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/**
 * Runs `statements` in one transaction on `url`'s database as `role` (the runtime role cannot alter a
 * table or edit the audit log: tests that play an attacker with more power say which).
 */
export async function queryAs(
  url: string,
  role: TestRole,
  statements: Array<[sql: string, params?: unknown[]]>,
): Promise<unknown[][]> {
  const client = new Client({ connectionString: asRole(url, role) });
  await client.connect();
  try {
    await client.query('BEGIN');
    const results: unknown[][] = [];
    for (const [sql, params] of statements) {
      results.push((await client.query(sql, params)).rows as unknown[]);
    }
    await client.query('COMMIT');
    return results;
  } finally {
    await client.end();
  }
}

/**
 * A database of its own for one test file, cloned from the migrated template (or empty), owned by the
 * owner role like Tessera's own. The URL is the runtime role's, as the server connects; `asRole(url,
 * 'owner')` migrates or changes the schema, `asRole(url, 'superuser')` plays an attacker with full power.
 */
export async function createTestDatabase(options: { empty?: boolean } = {}): Promise<string> {
  const name = `t_${randomUUID().replace(/-/g, '')}`;
  const template = options.empty === true ? 'template0' : TEMPLATE_DATABASE;
  await adminQuery(`CREATE DATABASE ${name} TEMPLATE ${template} OWNER ${EMBEDDED_OWNER_ROLE}`);
  return asRole(withDatabase(serverUrl(), name), 'runtime');
}

/** Resolves once `count` sessions on the database `query` runs against wait for a lock (row or advisory). */
export async function sessionsWaitingForLocks(
  query: <T>(sql: string) => Promise<T[]>,
  count: number,
): Promise<void> {
  for (let attempt = 0; attempt < 500; attempt++) {
    const [{ n }] = await query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE datname = current_database() AND wait_event_type = 'Lock'`,
    );
    if (n >= count) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`${count} sessions never waited for a lock`);
}
