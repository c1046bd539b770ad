#!/usr/bin/env node
// `tessera`: the API from a terminal or a script. Exit codes: 0 done (or VALID), 1 a negative answer
// (license not valid, file does not verify), 2 usage, 3 the API refused (problem+json), 4 an answer
// whose signature fails, 5 the server cannot be reached.
import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

import { Command, CommanderError, Option } from 'commander';
import type { JSONWebKeySet } from 'jose';

import { createTesseraClient } from './client.js';
import type { License, Machine, TesseraClient } from './client.js';
import { TesseraApiError, TesseraNetworkError, TesseraSignatureError } from './errors.js';
import { LicenseFileError } from './license-file.js';
import { Licensing } from './licensing.js';

const EXIT = { ok: 0, negative: 1, usage: 2, api: 3, signature: 4, network: 5 } as const;

class UsageError extends Error {}

interface Config {
  url?: string;
  apiKey?: string;
}

/** `TESSERA_CONFIG` or ~/.config/tessera/config.json; refused when others may read it (it holds a key). */
function readConfig(): Config {
  const path = env('TESSERA_CONFIG') ?? join(homedir(), '.config', 'tessera', 'config.json');
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch {
    return {};
  }
  if ((mode & 0o077) !== 0) {
    throw new UsageError(
      `${path} is readable by others (mode ${(mode & 0o777).toString(8)}): chmod 600 it`,
    );
  }
  return JSON.parse(readFileSync(path, 'utf8')) as Config;
}

/** An environment variable; empty counts as unset. */
function env(name: string): string | undefined {
  const value = process.env[name];
  return value === '' ? undefined : value;
}

function readJwks(path: string): JSONWebKeySet {
  return JSON.parse(readFileSync(path, 'utf8')) as JSONWebKeySet;
}

async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) {
    text += (chunk as Buffer).toString('utf8');
  }
  return text.trim();
}

interface Globals {
  url?: string;
  json?: boolean;
  apiKeyStdin?: boolean;
}

async function settings(
  command: Command,
): Promise<{ url: string; apiKey?: string; json: boolean }> {
  const globals = command.optsWithGlobals<Globals>();
  const config = readConfig();
  const url = globals.url ?? env('TESSERA_URL') ?? config.url;
  if (url === undefined) {
    throw new UsageError('no server: pass --url, or set TESSERA_URL or "url" in the config file');
  }
  const apiKey =
    globals.apiKeyStdin === true ? await readStdin() : (env('TESSERA_API_KEY') ?? config.apiKey);
  return { url, apiKey, json: globals.json === true };
}

async function client(command: Command): Promise<{ api: TesseraClient; json: boolean }> {
  const { url, apiKey, json } = await settings(command);
  if (apiKey === undefined || apiKey === '') {
    throw new UsageError(
      'no API key: set TESSERA_API_KEY, "apiKey" in the config file, or use --api-key-stdin',
    );
  }
  return { api: createTesseraClient({ baseUrl: url, apiKey }), json };
}

/** Columns padded to their widest cell, for people; --json prints the objects for scripts. */
function table(rows: Record<string, unknown>[], columns: string[]): string {
  const cell = (value: unknown): string =>
    value === null || value === undefined
      ? '-'
      : Array.isArray(value)
        ? value.join(',')
        : typeof value === 'string'
          ? value
          : JSON.stringify(value);
  const widths = columns.map((column) =>
    Math.max(column.length, ...rows.map((row) => cell(row[column]).length)),
  );
  const line = (cells: string[]): string =>
    cells
      .map((text, i) => text.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [
    line(columns.map((c) => c.toUpperCase())),
    ...rows.map((row) => line(columns.map((c) => cell(row[c])))),
  ].join('\n');
}

function print(json: boolean, value: unknown, columns: string[]): void {
  if (json) {
    console.log(JSON.stringify(value, null, 2));
    return;
  }
  const rows = (Array.isArray(value) ? value : [value]) as Record<string, unknown>[];
  console.log(table(rows, columns));
}

/** Reads every page, with a counter on stderr while it runs (only on a terminal). */
async function collect<T>(items: AsyncIterable<T>, noun: string): Promise<T[]> {
  const all: T[] = [];
  const frames = '⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏';
  const tty = process.stderr.isTTY === true;
  for await (const item of items) {
    all.push(item);
    if (tty && all.length % 25 === 0) {
      process.stderr.write(`\r${frames[(all.length / 25) % frames.length]} ${all.length} ${noun}`);
    }
  }
  if (tty) {
    process.stderr.write('\r\x1b[K');
  }
  return all;
}

const LICENSE_COLUMNS = ['id', 'status', 'keyPrefix', 'policyId', 'customerId', 'expiresAt'];
const MACHINE_COLUMNS = ['id', 'fingerprint', 'name', 'platform', 'lastHeartbeatAt', 'createdAt'];

export function program(): Command {
  const cli = new Command('tessera')
    .description(
      'Tessera licensing from the command line (credentials: TESSERA_API_KEY or a 0600 config file)',
    )
    .option('--url <url>', 'server base URL (or TESSERA_URL)')
    .option('--json', 'print JSON for scripts instead of tables')
    .option(
      '--api-key-stdin',
      'read the API key from standard input (never pass it as an argument)',
    )
    .showHelpAfterError()
    .exitOverride();

  const licenses = cli.command('licenses').description('licenses: list, create, show, lifecycle');
  licenses
    .command('list')
    .addOption(new Option('--status <status>').choices(['ACTIVE', 'SUSPENDED', 'REVOKED']))
    .option('--policy <id>', 'only this policy')
    .option('--customer <id>', 'only this customer')
    .action(
      async (
        options: { status?: License['status']; policy?: string; customer?: string },
        command: Command,
      ) => {
        const { api, json } = await client(command);
        const all = await collect(
          api.licenses.list({
            status: options.status as 'ACTIVE' | 'SUSPENDED' | 'REVOKED' | undefined,
            policyId: options.policy,
            customerId: options.customer,
            limit: 100,
          }),
          'licenses',
        );
        print(json, all, LICENSE_COLUMNS);
      },
    );
  licenses
    .command('create')
    .requiredOption('--policy <id>')
    .requiredOption('--customer <id>')
    .option('--name <name>')
    .option('--expires-at <iso>')
    .option('--entitlement <code...>', 'entitlements beyond the policy')
    .action(
      async (
        options: {
          policy: string;
          customer: string;
          name?: string;
          expiresAt?: string;
          entitlement?: string[];
        },
        command: Command,
      ) => {
        const { api, json } = await client(command);
        const issued = await api.licenses.create({
          policyId: options.policy,
          customerId: options.customer,
          name: options.name,
          expiresAt: options.expiresAt,
          entitlements: options.entitlement,
        });
        // The key is shown once: on stdout, so that it can be piped somewhere safe.
        print(json, issued, ['id', 'key', 'status', 'expiresAt']);
      },
    );
  for (const [name, run] of [
    ['show', (api: TesseraClient, id: string) => api.licenses.get(id)],
    ['suspend', (api: TesseraClient, id: string) => api.licenses.suspend(id)],
    ['reinstate', (api: TesseraClient, id: string) => api.licenses.reinstate(id)],
    ['revoke', (api: TesseraClient, id: string) => api.licenses.revoke(id)],
  ] as const) {
    licenses
      .command(`${name} <id>`)
      .action(async (id: string, _options: unknown, command: Command) => {
        const { api, json } = await client(command);
        print(json, await run(api, id), LICENSE_COLUMNS);
      });
  }

  cli
    .command('validate <key>')
    .description(
      'validate a license key, checking the answer signature (exit 0 VALID, 1 otherwise)',
    )
    .option('--fingerprint <fingerprint>')
    .option('--product <product>')
    .option('--entitlement <code...>')
    .option('--jwks <file>', 'verify with this saved JWKS instead of fetching /v1/keys')
    .action(
      async (
        key: string,
        options: { fingerprint?: string; product?: string; entitlement?: string[]; jwks?: string },
        command: Command,
      ) => {
        const { url, json } = await settings(command);
        const licensing = new Licensing({
          baseUrl: url,
          offline: false, // a script wants to know the server was not reached (exit 5)
          jwks: options.jwks === undefined ? undefined : readJwks(options.jwks),
        });
        const result = await licensing.validate(key, {
          scope: {
            fingerprint: options.fingerprint,
            product: options.product,
            entitlements: options.entitlement,
          },
        });
        if (json) {
          console.log(JSON.stringify(result, null, 2));
        } else {
          console.log(`${result.code}: ${result.detail}`);
        }
        process.exitCode = result.valid ? EXIT.ok : EXIT.negative;
      },
    );

  const machines = cli.command('machines').description("a license's machines");
  machines
    .command('list')
    .requiredOption('--license <id>')
    .action(async (options: { license: string }, command: Command) => {
      const { api, json } = await client(command);
      const all: Machine[] = await collect(
        api.machines.list({ licenseId: options.license, limit: 100 }),
        'machines',
      );
      print(json, all, MACHINE_COLUMNS);
    });
  machines
    .command('deactivate <id>')
    .action(async (id: string, _options: unknown, command: Command) => {
      const { api, json } = await client(command);
      await api.machines.deactivate(id);
      print(json, { id, deactivated: true }, ['id', 'deactivated']);
    });

  const files = cli.command('license-file').description('license files for offline use');
  files
    .command('checkout <licenseId>')
    .description('check out a license file (printed to stdout)')
    .option('--ttl <seconds>', 'lifetime in seconds', (value) => Number.parseInt(value, 10))
    .option('--encrypt', 'encrypt with the license key (read from TESSERA_LICENSE_KEY)')
    .action(
      async (licenseId: string, options: { ttl?: number; encrypt?: boolean }, command: Command) => {
        const { api, json } = await client(command);
        const key = env('TESSERA_LICENSE_KEY');
        if (options.encrypt === true && key === undefined) {
          throw new UsageError('--encrypt needs the license key in TESSERA_LICENSE_KEY');
        }
        const file = await api.licenses.checkOut(licenseId, {
          ttl: options.ttl,
          encrypt: options.encrypt,
          key,
        });
        console.log(json ? JSON.stringify(file, null, 2) : file.certificate);
      },
    );
  files
    .command('verify <file>')
    .description('verify a license file offline (exit 0 valid, 1 not)')
    .requiredOption('--jwks <file>', 'the saved JWKS (`tessera keys fetch > jwks.json`)')
    .option('--fingerprint <fingerprint>', "this machine's fingerprint (machine files)")
    .action(
      async (file: string, options: { jwks: string; fingerprint?: string }, command: Command) => {
        const json = command.optsWithGlobals<Globals>().json === true;
        const licensing = new Licensing({
          baseUrl: 'http://offline.invalid',
          jwks: readJwks(options.jwks),
        });
        try {
          const verified = await licensing.verifyLicenseFile(readFileSync(file, 'utf8'), {
            licenseKey: env('TESSERA_LICENSE_KEY'),
            fingerprint: options.fingerprint,
          });
          if (json) {
            console.log(JSON.stringify(verified, null, 2));
          } else {
            console.log(
              `valid: license ${verified.license.id} (${verified.license.status}), kid ${verified.kid}, ` +
                `until ${verified.expiresAt.toISOString()}, entitlements ${verified.entitlements.join(',') || '-'}`,
            );
          }
        } catch (error) {
          console.error(`invalid license file: ${(error as Error).message}`);
          process.exitCode = EXIT.negative;
        }
      },
    );

  cli
    .command('keys')
    .description('the public signing keys')
    .command('fetch')
    .description(
      'print the JWKS (GET /v1/keys): `tessera keys fetch > jwks.json` to ship with an app',
    )
    .action(async (_options: unknown, command: Command) => {
      const { url } = await settings(command);
      console.log(JSON.stringify(await createTesseraClient({ baseUrl: url }).keys(), null, 2));
    });
  return cli;
}

function exitCodeFor(error: unknown): number {
  if (error instanceof CommanderError) {
    return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (error instanceof UsageError) {
    return EXIT.usage;
  }
  if (error instanceof TesseraApiError) {
    return EXIT.api;
  }
  if (error instanceof TesseraSignatureError) {
    return EXIT.signature;
  }
  if (error instanceof TesseraNetworkError) {
    return EXIT.network;
  }
  if (error instanceof LicenseFileError) {
    return EXIT.negative;
  }
  return EXIT.usage;
}

try {
  await program().parseAsync(process.argv);
} catch (error) {
  if (!(error instanceof CommanderError)) {
    console.error(`tessera: ${(error as Error).message}`);
  }
  process.exitCode = exitCodeFor(error);
}
