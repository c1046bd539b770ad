/**
 * `npm run bench:webhooks [-- --events 5000 --writers 8 --rate 100 --seconds 10 --concurrency 16]`:
 * webhook delivery through the whole app (outbox -> NOTIFY -> fan-out -> lease -> signed HTTP POST ->
 * settled) to a receiver on 127.0.0.1, in three phases:
 *   1. backlog: `events` events are committed while no dispatcher runs, then an instance starts and drains
 *      them: the dispatcher's throughput, delivered events/s;
 *   2. live: `writers` concurrent transactions commit `events` events as fast as they can while it
 *      dispatches: throughput and commit-to-receipt lag under load;
 *   3. paced: one event every 1/`rate` s for `seconds` s: the lag of a lightly loaded system.
 * Events are committed by one app instance (no dispatcher) and delivered by another, as with replicas.
 * The receiver runs in a child process, so it shares no event loop with the dispatcher. Lag runs from the
 * moment the committing transaction returned to the moment the receiver had read the request.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

import { DataSource } from 'typeorm';

import { createApp } from 'src/app';
import { loadConfig, withMigrationUrl } from 'src/config/app-config';
import { WebhookEndpointService } from 'src/modules/webhooks/webhook-endpoint.service';
import { systemActor } from 'src/platform/auth/actor';
import { startEmbeddedPostgres } from 'src/platform/database/embedded-postgres';
import { OutboxRepository } from 'src/platform/outbox/outbox.repository';
import { freePortFor } from './ports';

const now = () => performance.timeOrigin + performance.now();

type ReceiverMessage =
  | { kind: 'listening'; port: number }
  | { kind: 'count'; unique: number; total: number }
  | { kind: 'report'; firstSeen: Array<[string, number]>; total: number };

/** The child process: answers 204 to every POST and remembers when each webhook-id first arrived. */
function runReceiver(): void {
  const firstSeen = new Map<string, number>();
  let total = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const at = now();
      total += 1;
      const id = String(req.headers['webhook-id']);
      if (!firstSeen.has(id)) {
        firstSeen.set(id, at);
      }
      res.writeHead(204).end();
    });
  });
  server.listen(0, '127.0.0.1', () => {
    process.send!({ kind: 'listening', port: (server.address() as AddressInfo).port });
  });
  process.on('message', (message: string) => {
    if (message === 'count') {
      process.send!({ kind: 'count', unique: firstSeen.size, total });
    } else if (message === 'report') {
      process.send!({ kind: 'report', firstSeen: [...firstSeen], total });
    } else if (message === 'exit') {
      server.close(() => process.exit(0));
    }
  });
}

function ask<K extends ReceiverMessage['kind']>(
  child: ChildProcess,
  question: string,
  kind: K,
): Promise<Extract<ReceiverMessage, { kind: K }>> {
  return new Promise((resolve) => {
    const listener = (message: ReceiverMessage) => {
      if (message.kind === kind) {
        child.off('message', listener);
        resolve(message as Extract<ReceiverMessage, { kind: K }>);
      }
    };
    child.on('message', listener);
    if (question !== '') {
      child.send(question);
    }
  });
}

async function waitForUnique(child: ChildProcess, expected: number, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { unique } = await ask(child, 'count', 'count');
    if (unique >= expected) {
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(`only ${unique} of ${expected} events arrived within ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      events: { type: 'string', default: '5000' },
      writers: { type: 'string', default: '8' },
      rate: { type: 'string', default: '100' },
      seconds: { type: 'string', default: '10' },
      concurrency: { type: 'string', default: '16' },
    },
  });
  const events = Number(values.events);
  const writers = Number(values.writers);
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);

  const parent = mkdtempSync(join(tmpdir(), 'tessera-bench-webhooks-'));
  chmodSync(parent, 0o755); // as root, PostgreSQL runs as `postgres` and must enter it
  const database = await startEmbeddedPostgres({
    dir: join(parent, 'pg'),
    port: await freePortFor(),
    log: () => undefined,
  });
  const receiver = fork(__filename, ['--receiver'], { stdio: 'inherit' });
  const { port } = await ask(receiver, '', 'listening');
  const config = withMigrationUrl(
    loadConfig(
      {
        NODE_ENV: 'development',
        LOG_LEVEL: 'silent',
        DATA_DIR: parent,
        JWT_SECRET: randomUUID() + randomUUID(),
        ENCRYPTION_KEY: randomUUID() + randomUUID(),
        HASHING_KEY: randomUUID() + randomUUID(),
        DATABASE_POOL_SIZE: '20',
        WEBHOOK_ALLOW_HTTP: 'true',
        WEBHOOK_ALLOWED_ADDRESSES: '127.0.0.1',
        WEBHOOK_CONCURRENCY: values.concurrency,
        // One endpoint receives everything here: let it use every slot, to measure the dispatcher itself.
        WEBHOOK_ENDPOINT_CONCURRENCY: values.concurrency,
      },
      parent,
    ),
    database.migrationUrl,
  );
  const url = database.url;
  // The writer: an instance without a dispatcher; the dispatcher instance starts once the backlog exists.
  const writer = await createApp(
    { ...config, webhooks: { ...config.webhooks, dispatcherEnabled: false } },
    url,
  );
  let dispatcher: Awaited<ReturnType<typeof createApp>> | undefined;
  try {
    await writer
      .get(WebhookEndpointService)
      .create(systemActor(), { url: `http://127.0.0.1:${port}/hook`, eventTypes: ['bench.*'] });
    const dataSource = writer.get(DataSource);
    const outbox = writer.get(OutboxRepository);
    const commitTimes = new Map<string, number>();
    const commit = async (n: number) => {
      const id = await dataSource.transaction(async (tx) => {
        const event = await outbox.add(tx, {
          type: 'bench.happened',
          aggregateType: 'bench',
          aggregateId: randomUUID(),
          data: { n, note: 'a license-sized payload'.padEnd(600, '.') },
        });
        return event.id;
      });
      commitTimes.set(`msg_${id}`, now());
    };
    const burst = async (count: number) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: writers }, async () => {
          while (next < count) {
            next += 1;
            await commit(next);
          }
        }),
      );
    };
    let expected = 0;
    const arrivalsSince = async (before: Set<string>) =>
      (await ask(receiver, 'report', 'report')).firstSeen.filter(([id]) => !before.has(id));

    process.stdout.write(
      `webhooks bench: ${events} events (backlog), ${events} from ${writers} writers (live), ` +
        `then ${rate}/s for ${seconds} s; dispatcher concurrency ${values.concurrency}; ` +
        `receiver on 127.0.0.1 (child process)\n`,
    );

    // Phase 1: backlog.
    await burst(events);
    expected += events;
    const started = now();
    dispatcher = await createApp(config, url);
    await waitForUnique(receiver, expected, 300_000);
    const backlog = await arrivalsSince(new Set());
    const drainedMs = Math.max(...backlog.map(([, at]) => at)) - started;
    process.stdout.write(
      `backlog ${backlog.length} events drained in ${(drainedMs / 1000).toFixed(2)} s: ` +
        `${((backlog.length * 1000) / drainedMs).toFixed(0)} delivered/s (including the instance's start)\n`,
    );

    // Phase 2: live.
    let before = new Set(commitTimes.keys());
    const liveStart = now();
    await burst(events);
    const committedMs = now() - liveStart;
    expected += events;
    await waitForUnique(receiver, expected, 300_000);
    const live = await arrivalsSince(before);
    report(
      'live',
      live,
      commitTimes,
      Math.max(...live.map(([, at]) => at)) - liveStart,
      committedMs,
    );

    // Phase 3: paced.
    before = new Set(commitTimes.keys());
    const pacedCount = rate * seconds;
    const pacedStart = now();
    const pending: Array<Promise<void>> = [];
    for (let i = 0; i < pacedCount; i += 1) {
      const wait = pacedStart + (i * 1000) / rate - now();
      if (wait > 0) {
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
      pending.push(commit(i));
    }
    await Promise.all(pending);
    const pacedMs = now() - pacedStart;
    expected += pacedCount;
    await waitForUnique(receiver, expected, 120_000);
    report('paced', await arrivalsSince(before), commitTimes, pacedMs, pacedMs);
    const { total, firstSeen } = await ask(receiver, 'report', 'report');
    process.stdout.write(`duplicates received: ${total - firstSeen.length}\n`);
  } finally {
    receiver.send('exit');
    await dispatcher?.close();
    await writer.close();
    await database.stop();
    rmSync(parent, { recursive: true, force: true });
  }
  process.exit(0);
}

function report(
  label: string,
  arrivals: Array<[string, number]>,
  commitTimes: Map<string, number>,
  elapsedMs: number,
  commitMs: number,
): void {
  const lags = arrivals.map(([id, at]) => at - commitTimes.get(id)!).sort((a, b) => a - b);
  process.stdout.write(
    `${label.padEnd(7)} ${arrivals.length} events: ${((arrivals.length * 1000) / elapsedMs).toFixed(0)} delivered/s ` +
      `(committed at ${((arrivals.length * 1000) / commitMs).toFixed(0)}/s); ` +
      `lag commit->receipt p50 ${percentile(lags, 50).toFixed(1)} ms, p99 ${percentile(lags, 99).toFixed(1)} ms, ` +
      `max ${lags[lags.length - 1].toFixed(1)} ms\n`,
  );
}

if (process.argv.includes('--receiver')) {
  runReceiver();
} else {
  void main();
}
