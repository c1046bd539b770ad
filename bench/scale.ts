/**
 * `npm run bench:scale [-- --seconds 10 --connections 48 --licenses 10000]`: license validation (answers
 * signed) through 1, 2 and 3 Tessera server processes on one PostgreSQL, with the rate limits shared
 * through one redis-server (REDIS_URL, as several instances run), plus one instance without Redis and a
 * bare Fastify route, all in one run on 127.0.0.1. The load is spread evenly: one autocannon process per
 * instance (bench/load.ts), the connections split between them. For each run it reads the CPU time of
 * every process from /proc (Tessera instances, PostgreSQL backends, Redis, load generators), so the table
 * says where the machine's cores went and why throughput stops growing.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import type { AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import fastify from 'fastify';

import { KeyedHash } from 'src/platform/crypto/keyed-hash';
import { startEmbeddedPostgres } from 'src/platform/database/embedded-postgres';
import { freePortFor } from './ports';
import { startRedisServer } from './redis-server';
import { load, seed } from './validation-load';
import type { Load } from './validation-load';

const ROOT = join(__dirname, '..', '..');
const TICKS_PER_SECOND = 100; // USER_HZ on Linux

interface Instance {
  readonly child: ChildProcess;
  readonly url: string;
}

interface Run {
  label: string;
  load: Load;
  /** CPU seconds per second of wall time (cores), by group. */
  cores: Record<'tessera' | 'postgres' | 'redis' | 'load' | 'bench' | 'others', number>;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '10' },
      connections: { type: 'string', default: '48' },
      licenses: { type: 'string', default: '10000' },
    },
  });
  const seconds = Number(values.seconds);
  const connections = Number(values.connections);
  const licenseCount = Number(values.licenses);

  const parent = mkdtempSync(join(tmpdir(), 'tessera-bench-scale-'));
  chmodSync(parent, 0o755); // as root, PostgreSQL runs as `postgres` and must enter it
  const database = await startEmbeddedPostgres({
    dir: join(parent, 'pg'),
    port: await freePortFor(),
    log: () => undefined,
  });
  const redis = await startRedisServer();
  const secrets = {
    JWT_SECRET: randomUUID() + randomUUID(),
    ENCRYPTION_KEY: randomUUID() + randomUUID(),
    HASHING_KEY: randomUUID() + randomUUID(),
  };
  const env = (name: string, port: number, extra: Record<string, string>) => {
    const dataDir = join(parent, name);
    mkdirSync(dataDir);
    chmodSync(dataDir, 0o755);
    return {
      ...secrets,
      NODE_ENV: 'production',
      // Plain HTTP on loopback stands for the hop behind a TLS-terminating proxy, as in most deployments.
      TLS_TERMINATED_BY_PROXY: 'true',
      LOG_LEVEL: 'warn',
      DATA_DIR: dataDir,
      PORT: String(port),
      DATABASE_URL: database.url,
      DATABASE_MIGRATION_URL: database.migrationUrl,
      DATABASE_POOL_SIZE: '20',
      RATE_LIMIT_VALIDATE_PER_MINUTE: '100000000',
      ...extra,
    };
  };
  const instances: Instance[] = [];
  const bare = fastify();
  bare.post('/bare', () => ({ valid: true }));
  try {
    // The first one migrates; the others start on the migrated schema.
    instances.push(await startInstance(env('i1', await freePortFor(), { REDIS_URL: redis.url })));
    const more = await Promise.all(
      ['i2', 'i3'].map(async (name) =>
        startInstance(env(name, await freePortFor(), { REDIS_URL: redis.url })),
      ),
    );
    instances.push(...more);
    const local = await startInstance(env('local', await freePortFor(), {}));
    instances.push(local);

    const keys = await seed(
      database.url,
      new KeyedHash(Buffer.from(secrets.HASHING_KEY)),
      licenseCount,
    );
    const bodiesFile = join(parent, 'bodies.json');
    writeFileSync(
      bodiesFile,
      JSON.stringify(keys.map((key) => JSON.stringify({ key, nonce: 'bench' }))),
    );
    await bare.listen({ host: '127.0.0.1', port: 0 });
    const bareUrl = `http://127.0.0.1:${(bare.server.address() as AddressInfo).port}/bare`;
    const validateUrl = (instance: Instance) => `${instance.url}/v1/licenses/actions/validate-key`;

    process.stdout.write(
      `scale bench: ${licenseCount} licenses, ${connections} connections spread over the instances, ` +
        `${seconds} s per run, ${cpus().length} cores, answers signed (software signer, EdDSA), ` +
        `one PostgreSQL, one redis-server, all on 127.0.0.1\n`,
    );
    // Warm-up: every instance prepares its statements and fills its caches.
    for (const instance of instances) {
      await load(validateUrl(instance), 16, 2, bodiesFile);
    }
    const measure = (label: string, urls: string[]) =>
      measured(label, urls, connections, seconds, bodiesFile, {
        tessera: instances.map((i) => i.child.pid!),
        redis: [redis.pid()],
        postgres: Number(readFileSync(join(parent, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]),
      });
    const runs: Run[] = [
      await measure('bare Fastify route', [bareUrl]),
      await measure('1 instance, in-memory limits', [validateUrl(local)]),
      await measure('1 instance, Redis limits', [validateUrl(instances[0])]),
      await measure('2 instances, Redis limits', instances.slice(0, 2).map(validateUrl)),
      await measure('3 instances, Redis limits', instances.slice(0, 3).map(validateUrl)),
    ];
    print(runs);
  } finally {
    await bare.close();
    for (const instance of instances) {
      instance.child.kill('SIGTERM');
    }
    await Promise.all(instances.map((i) => exited(i.child)));
    await redis.close();
    await database.stop();
    rmSync(parent, { recursive: true, force: true });
  }
  process.exit(0);
}

function print(runs: Run[]): void {
  const [bareRun, local, one, two, three] = runs;
  const fmt = (n: number, digits = 2) => n.toFixed(digits);
  process.stdout.write(
    `${'target'.padEnd(30)} ${'req/s'.padStart(7)}  ${'p50'.padStart(4)} ${'p99'.padStart(5)} ms | ` +
      `CPU cores: tessera postgres redis  load bench | others on the machine\n`,
  );
  for (const run of runs) {
    const { tessera, postgres, redis, load: generator, bench, others } = run.cores;
    process.stdout.write(
      `${run.label.padEnd(30)} ${run.load.rps.toFixed(0).padStart(7)}  ${String(run.load.p50).padStart(4)} ` +
        `${String(run.load.p99).padStart(5)}    |           ` +
        `${fmt(tessera).padStart(7)} ${fmt(postgres).padStart(8)} ${fmt(redis).padStart(5)} ` +
        `${fmt(generator).padStart(5)} ${fmt(bench).padStart(5)} | ${fmt(others).padStart(5)}` +
        `  (non-2xx ${run.load.non2xx}, errors ${run.load.errors})\n`,
    );
  }
  const perRequest = (run: Run) => {
    const us = (cores: number) => ((cores * 1e6) / run.load.rps).toFixed(0);
    return (
      `tessera ${us(run.cores.tessera)}, postgres ${us(run.cores.postgres)}, redis ${us(run.cores.redis)}, ` +
      `load generator ${us(run.cores.load)}; all of them ${us(run.cores.tessera + run.cores.postgres + run.cores.redis + run.cores.load)}`
    );
  };
  process.stdout.write(
    `ratio 2/1 instances: ${fmt(two.load.rps / one.load.rps)}   3/1: ${fmt(three.load.rps / one.load.rps)}   ` +
      `3/2: ${fmt(three.load.rps / two.load.rps)}\n` +
      `ratio vs bare Fastify: 1 in-memory ${fmt(local.load.rps / bareRun.load.rps)}, ` +
      `1 Redis ${fmt(one.load.rps / bareRun.load.rps)}, 2 ${fmt(two.load.rps / bareRun.load.rps)}, ` +
      `3 ${fmt(three.load.rps / bareRun.load.rps)}\n` +
      `Redis limits vs in-memory (1 instance): ${fmt(one.load.rps / local.load.rps)}\n` +
      `CPU per validation (µs): 1 instance: ${perRequest(one)}\n` +
      `                         3 instances: ${perRequest(three)}\n`,
  );
}

/** One run: a load generator per URL (connections split), and the CPU every process used meanwhile. */
async function measured(
  label: string,
  urls: string[],
  connections: number,
  seconds: number,
  bodiesFile: string,
  pids: { tessera: number[]; redis: number[]; postgres: number },
): Promise<Run> {
  const before = {
    tessera: cpuOf(pids.tessera),
    redis: cpuOf(pids.redis),
    postgres: postgresCpu(pids.postgres),
    bench: process.cpuUsage(),
    machine: machineBusyTicks(),
  };
  const started = performance.now();
  const loads = await Promise.all(
    urls.map((url) => load(url, Math.floor(connections / urls.length), seconds, bodiesFile)),
  );
  const wall = (performance.now() - started) / 1000;
  const cores = (ticks: number) => ticks / TICKS_PER_SECOND / wall;
  const combined: Load = {
    rps: loads.reduce((sum, l) => sum + l.rps, 0),
    total: loads.reduce((sum, l) => sum + l.total, 0),
    p50: Math.max(...loads.map((l) => l.p50)),
    p99: Math.max(...loads.map((l) => l.p99)),
    non2xx: loads.reduce((sum, l) => sum + l.non2xx, 0),
    errors: loads.reduce((sum, l) => sum + l.errors, 0),
    cpuMs: loads.reduce((sum, l) => sum + l.cpuMs, 0),
  };
  const bench = process.cpuUsage(before.bench);
  const used = {
    tessera: cores(cpuOf(pids.tessera) - before.tessera),
    postgres: cores(postgresCpu(pids.postgres, before.postgres.pids).ticks),
    redis: cores(cpuOf(pids.redis) - before.redis),
    load: combined.cpuMs / 1000 / wall,
    // This process: the bare Fastify route's server, and the orchestration (idle during a run).
    bench: (bench.user + bench.system) / 1e6 / wall,
  };
  const ours = Object.values(used).reduce((sum, c) => sum + c, 0);
  // Whatever else the machine ran meanwhile (other work on a shared machine takes cores from the bench).
  const others = Math.max(0, cores(machineBusyTicks() - before.machine) - ours);
  return { label, load: combined, cores: { ...used, others } };
}

/** Busy ticks of the whole machine, all cores (/proc/stat: everything but idle and iowait). */
function machineBusyTicks(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const [, ...fields] = line.trim().split(/\s+/);
  const ticks = fields.map(Number);
  const idle = ticks[3] + ticks[4];
  return ticks.slice(0, 8).reduce((sum, t) => sum + t, 0) - idle;
}

/** utime + stime of the processes, in clock ticks (a process gone since counts 0). */
function cpuOf(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    ticks += ticksOf(pid) ?? 0;
  }
  return ticks;
}

function ticksOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may hold spaces) in parentheses: utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/**
 * The CPU of this run's PostgreSQL: its postmaster (first line of `postmaster.pid` in the data directory)
 * and the processes it forked (backends, helpers); other PostgreSQL servers on the machine do not count.
 * Backends that existed before count from their earlier reading, new ones from zero.
 */
function postgresCpu(
  postmaster: number,
  earlier?: Map<number, number>,
): { ticks: number; pids: Map<number, number> } {
  const pids = new Map<number, number>();
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    const pid = Number(entry);
    if (pid !== postmaster && parentOf(pid) !== postmaster) {
      continue;
    }
    const now = ticksOf(pid);
    if (now !== undefined) {
      pids.set(pid, now);
      ticks += now - (earlier?.get(pid) ?? 0);
    }
  }
  return { ticks, pids };
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

async function startInstance(env: Record<string, string>): Promise<Instance> {
  const child = spawn(process.execPath, ['dist/src/main.js'], {
    cwd: ROOT,
    // Only the instance's own configuration: nothing of the bench's environment leaks into it.
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let output = '';
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = `http://127.0.0.1:${env.PORT}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`instance on ${url} did not become ready:\n${output}`);
    }
    const status = await fetch(`${url}/health/ready`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) {
      return { child, url };
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));
}

void main();
