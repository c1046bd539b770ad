import { randomUUID } from 'node:crypto';

import { Client } from 'pg';

import { withDatabase } from 'src/platform/database/embedded-postgres';

export const TEMPLATE_DATABASE = 'tessera_template';

/** The embedded server started by global-setup for this run. */
export function serverUrl(): string {
  const url = process.env.TESSERA_TEST_SERVER_URL;
  if (url === undefined) {
    throw new Error(
      'TESSERA_TEST_SERVER_URL is not set: run the tests through jest (global-setup starts PostgreSQL)',
    );
  }
  return url;
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

/** A database of its own for one test file, cloned from the migrated template (or empty). */
export async function createTestDatabase(options: { empty?: boolean } = {}): Promise<string> {
  const name = `t_${randomUUID().replace(/-/g, '')}`;
  const template = options.empty === true ? 'template0' : TEMPLATE_DATABASE;
  await adminQuery(`CREATE DATABASE ${name} TEMPLATE ${template}`);
  return withDatabase(serverUrl(), name);
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
