/**
 * `npm run bench:audit [-- --seconds 10 --writers 20 --no-fsync]`: audit appends per second with concurrent
 * writers, each append in a transaction of its own as a business mutation would be, against plain inserts
 * of the same rows into an unchained copy of the table. A mutation returns before its event is linked, so
 * the chained run lasts until every event is in the chain: the time the linker needs to drain what is left
 * counts in its figure, and the largest backlog seen is printed. Runs on a throwaway embedded PostgreSQL.
 */
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

import { DataSource } from 'typeorm';
import type { EntityManager } from 'typeorm';

import { GENESIS_HASH } from 'src/modules/audit/audit-chain';
import type { AuditEntry } from 'src/modules/audit/audit.dto';
import { AuditRepository } from 'src/modules/audit/audit.repository';
import { AuditLinker } from 'src/modules/audit/audit-linker';
import { AuditService } from 'src/modules/audit/audit.service';
import type { Actor } from 'src/platform/auth/actor';
import { Permission } from 'src/platform/auth/permission';
import { MIGRATIONS_GLOB } from 'src/platform/database/database-options';
import { startEmbeddedPostgres } from 'src/platform/database/embedded-postgres';
import { migrateWithLock } from 'src/platform/database/migrator';
import { SnakeNamingStrategy } from 'src/platform/database/naming-strategy';
import { Transactions } from 'src/platform/database/transaction';

interface Result {
  readonly label: string;
  readonly count: number;
  readonly seconds: number;
  readonly latenciesMs: number[];
  readonly note?: string;
}

const ACTOR: Actor = {
  type: 'admin',
  id: randomUUID(),
  permissions: new Set([Permission.LicenseSuspend]),
  ip: '203.0.113.7',
  userAgent: 'tessera-bench/1.0',
  requestId: 'bench',
};

function entry(): AuditEntry {
  return {
    action: 'license.suspended',
    targetType: 'license',
    targetId: randomUUID(),
    before: { status: 'active', suspendedAt: null, name: 'Acme Pro', maxMachines: 5 },
    after: { status: 'suspended', suspendedAt: new Date(), name: 'Acme Pro', maxMachines: 5 },
    metadata: { reason: 'overdue invoice' },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '10' },
      writers: { type: 'string', default: '20' },
      'no-fsync': { type: 'boolean', default: false },
    },
  });
  const seconds = Number(values.seconds);
  const writers = Number(values.writers);
  const durable = !values['no-fsync'];

  const parent = mkdtempSync(join(tmpdir(), 'tessera-bench-'));
  chmodSync(parent, 0o755); // as root, PostgreSQL runs as `postgres` and must enter it
  const server = await startEmbeddedPostgres({
    dir: join(parent, 'pg'),
    port: await freePort(),
    log: () => undefined,
    durable,
  });
  const dataSource = await new DataSource({
    type: 'postgres',
    // The owner: it migrates, and creates the plain comparison table.
    url: server.migrationUrl,
    namingStrategy: new SnakeNamingStrategy(),
    migrations: [MIGRATIONS_GLOB],
    poolSize: writers + 2,
  }).initialize();
  const events = new AuditRepository(dataSource);
  const linker = new AuditLinker(dataSource, events);
  try {
    await migrateWithLock(dataSource);
    // Same columns, constraints and indexes; no triggers, no head row, no hashing.
    await dataSource.query(`CREATE TABLE bench_plain_events (LIKE audit_events INCLUDING ALL)`);
    await dataSource.query(`CREATE SEQUENCE bench_plain_sequence`);

    const transactions = new Transactions(dataSource);
    const audit = new AuditService(events, linker, transactions);
    // Both through Transactions.run, as services open them.
    const chained = () => transactions.run((tx) => audit.record(tx, ACTOR, entry()));
    const plain = () => transactions.run((tx) => insertPlain(tx, entry()));
    const chainedUntilLinked = async (label: string, runSeconds: number): Promise<Result> => {
      let backlog = 0;
      const sampler = setInterval(() => {
        events.pendingBacklog().then(
          ({ events: n }) => (backlog = Math.max(backlog, n)),
          () => undefined,
        );
      }, 100);
      const written = await run(label, chained, writers, runSeconds);
      clearInterval(sampler);
      const drainStarted = performance.now();
      const { events: left } = await events.pendingBacklog();
      await audit.head(); // links everything committed
      const drainSeconds = (performance.now() - drainStarted) / 1000;
      return {
        ...written,
        seconds: written.seconds + drainSeconds,
        note:
          `largest backlog ${backlog}, ${left} left at the end, linked in ` +
          `${(drainSeconds * 1000).toFixed(0)} ms (counted)`,
      };
    };

    process.stdout.write(
      `audit append bench: ${writers} writers, ${seconds} s per run, ` +
        `PostgreSQL ${durable ? 'durable (fsync on)' : 'fsync off'}\n`,
    );
    await chainedUntilLinked('warm-up', 1);
    await run('warm-up', plain, writers, 1);
    const results = [
      await chainedUntilLinked('chained audit append', seconds),
      await run('plain insert (no chain)', plain, writers, seconds),
    ];
    for (const result of results) {
      report(result);
    }
    const [chainedRate, plainRate] = results.map((r) => r.count / r.seconds);
    process.stdout.write(
      `ratio chained/plain: ${(chainedRate / plainRate).toFixed(2)} ` +
        `(plain is ${(plainRate / chainedRate).toFixed(1)}x faster)\n`,
    );

    const started = performance.now();
    const verified = await audit.verify();
    const verifySeconds = (performance.now() - started) / 1000;
    process.stdout.write(
      `verify: ${JSON.stringify(verified)} in ${verifySeconds.toFixed(2)} s ` +
        `(${Math.round(verified.checked / verifySeconds)} events/s)\n`,
    );
  } finally {
    await linker.onModuleDestroy();
    await dataSource.destroy();
    await server.stop();
    rmSync(parent, { recursive: true, force: true });
  }
}

/** `writers` loops, each running one transaction after another until the time is up. */
async function run(
  label: string,
  work: () => Promise<unknown>,
  writers: number,
  seconds: number,
): Promise<Result> {
  const latenciesMs: number[] = [];
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (performance.now() < deadline) {
        const begun = performance.now();
        await work();
        latenciesMs.push(performance.now() - begun);
      }
    }),
  );
  return {
    label,
    count: latenciesMs.length,
    seconds: (performance.now() - started) / 1000,
    latenciesMs,
  };
}

/** The row an append writes, without the chain: a sequence from a SEQUENCE, a constant hash. */
async function insertPlain(tx: EntityManager, event: AuditEntry): Promise<void> {
  await tx.query(
    `INSERT INTO bench_plain_events (id, sequence, occurred_at, actor_type, actor_id, actor_ip,
       user_agent, request_id, action, target_type, target_id, changes, metadata, prev_hash, hash)
     VALUES ($1, nextval('bench_plain_sequence'), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb,
       $12::jsonb, $13, $13)`,
    [
      randomUUID(),
      new Date().toISOString(),
      ACTOR.type,
      ACTOR.id,
      ACTOR.ip,
      ACTOR.userAgent,
      ACTOR.requestId,
      event.action,
      event.targetType,
      event.targetId,
      JSON.stringify({ before: event.before, after: event.after }),
      JSON.stringify(event.metadata),
      GENESIS_HASH,
    ],
  );
}

function report(result: Result): void {
  const sorted = [...result.latenciesMs].sort((a, b) => a - b);
  const percentile = (p: number): string =>
    sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))].toFixed(1);
  process.stdout.write(
    `${result.label.padEnd(26)} ${String(result.count).padStart(7)} events in ` +
      `${result.seconds.toFixed(1)} s = ${(result.count / result.seconds).toFixed(0).padStart(6)} events/s, ` +
      `p50 ${percentile(50)} ms, p99 ${percentile(99)} ms` +
      `${result.note === undefined ? '' : `; ${result.note}`}\n`,
  );
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        resolve(typeof address === 'object' && address !== null ? address.port : 0),
      );
    });
  });
}

main().then(
  // embedded-postgres overrides process.exitCode on exit: exit explicitly.
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
