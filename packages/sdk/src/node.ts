// Node and Electron only: the file store and the machine fingerprint. The core (`@tessera/sdk`) has neither.
import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { hostname, platform } from 'node:os';
import { dirname } from 'node:path';
import { promisify } from 'node:util';

import type { LicenseStore } from './store.js';

/**
 * The offline cache in one JSON file, mode 0600 (0700 for a directory it creates), replaced atomically.
 * Its content is signed documents, verified on every read: editing it extends nothing.
 */
export class FileStore implements LicenseStore {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly mode = 0o600,
  ) {}

  async get(name: string): Promise<string | undefined> {
    return (await this.read())[name];
  }

  set(name: string, value: string): Promise<void> {
    return this.update((entries) => ({ ...entries, [name]: value }));
  }

  delete(name: string): Promise<void> {
    return this.update(({ [name]: _, ...entries }) => entries);
  }

  private async read(): Promise<Record<string, string>> {
    try {
      const parsed = JSON.parse(await readFile(this.path, 'utf8')) as unknown;
      return typeof parsed === 'object' && parsed !== null
        ? (parsed as Record<string, string>)
        : {};
    } catch {
      return {}; // missing or unreadable: as if empty (its entries would not verify anyway)
    }
  }

  /** Writes one after the other, so two updates in one process never lose each other. */
  private update(
    change: (entries: Record<string, string>) => Record<string, string>,
  ): Promise<void> {
    const next = this.queue.then(async () => {
      const entries = change(await this.read());
      await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
      const temporary = `${this.path}.${process.pid}.tmp`;
      await writeFile(temporary, JSON.stringify(entries), { mode: this.mode });
      await chmod(temporary, this.mode);
      await rename(temporary, this.path);
    });
    this.queue = next.catch(() => undefined);
    return next;
  }
}

const run = promisify(execFile);

/** The operating system's machine id (never sent anywhere as is: see machineFingerprint). */
async function rawMachineId(): Promise<string> {
  switch (platform()) {
    case 'linux':
      for (const file of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
        const id = await readFile(file, 'utf8').then(
          (text) => text.trim(),
          () => '',
        );
        if (id !== '') {
          return id;
        }
      }
      break;
    case 'darwin': {
      const { stdout } = await run('ioreg', ['-rd1', '-c', 'IOPlatformExpertDevice']);
      const match = /"IOPlatformUUID" = "([^"]+)"/.exec(stdout);
      if (match !== null) {
        return match[1];
      }
      break;
    }
    case 'win32': {
      const { stdout } = await run('reg', [
        'query',
        'HKLM\\SOFTWARE\\Microsoft\\Cryptography',
        '/v',
        'MachineGuid',
      ]);
      const match = /MachineGuid\s+REG_SZ\s+(\S+)/.exec(stdout);
      if (match !== null) {
        return match[1];
      }
      break;
    }
    case 'freebsd':
      return (await readFile('/etc/hostid', 'utf8')).trim();
    case 'aix':
    case 'android':
    case 'cygwin':
    case 'haiku':
    case 'netbsd':
    case 'openbsd':
    case 'sunos':
      break;
  }
  throw new Error(`no machine id on ${platform()} (${hostname()}): pass a fingerprint of your own`);
}

/**
 * A stable fingerprint of this machine for `activate` and `validate`: HMAC-SHA256 of the OS machine id
 * keyed by the app's id, hex. Stable across reboots and app updates; different per app, so two vendors
 * cannot correlate a user's machine, and the raw id never leaves the machine.
 */
export async function machineFingerprint(appId: string): Promise<string> {
  return createHmac('sha256', `tessera-fingerprint:${appId}`)
    .update(await rawMachineId())
    .digest('hex');
}
