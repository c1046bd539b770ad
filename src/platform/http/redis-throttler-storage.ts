import { Logger } from '@nestjs/common';
import type { OnApplicationShutdown } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import { Redis } from 'ioredis';

import { DomainError } from 'src/platform/errors/domain-error';
import { FixedWindowStorage } from 'src/platform/http/fixed-window-storage';
import { withTimeout } from 'src/platform/with-timeout';

type Window = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/**
 * One fixed window per key, counted and read in one script: INCR, set the expiry on the first hit, read
 * what is left. Redis runs a script alone, so concurrent checks from any number of instances each see a
 * distinct count (no read-then-write race). A key without an expiry (a failed PEXPIRE) gets one.
 */
const INCREMENT_SCRIPT = `
local hits = redis.call('INCR', KEYS[1])
if hits == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
local left = redis.call('PTTL', KEYS[1])
if left < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  left = tonumber(ARGV[1])
end
return { hits, left }
`;

export class RateLimitUnavailable extends DomainError {
  readonly code = 'RATE_LIMIT_UNAVAILABLE';
  readonly status = 503;
  constructor() {
    super('The rate-limit store does not answer: sign-in is refused until it does. Retry shortly.');
  }
}

export interface RedisStoreState {
  readonly reachable: boolean;
  /** Since when the store has failed (ISO time), while it fails. */
  readonly failingSince: string | undefined;
  readonly lastError: string | undefined;
}

export interface RedisStoreEvents {
  /** A check made without Redis (refused, or counted in this instance), by budget (throttler name). */
  onFallback(budget: string): void;
  onStateChange(reachable: boolean): void;
}

export interface RedisThrottlerStorageOptions {
  readonly url: string;
  readonly commandTimeoutMs: number;
  readonly retryIntervalMs: number;
  readonly keyPrefix: string;
  /** Budgets refused (503) rather than counted per instance while Redis fails: sign-in. */
  readonly failClosed: ReadonlySet<string>;
  readonly events?: RedisStoreEvents;
}

/**
 * Rate-limit windows in Redis, shared by every instance. The windows are the ones FixedWindowStorage keeps
 * in memory (same counts, same `RateLimit-*` headers), atomic per check (one script).
 * Outage policy (docs/adr/0011-shared-rate-limits.md): a check waits at most `commandTimeoutMs`; then, and
 * for `retryIntervalMs` after (no request waits on a Redis known to be failing), fail-closed budgets answer
 * 503 RATE_LIMIT_UNAVAILABLE and the others count in this instance's memory, as without Redis. The client
 * reconnects on its own; the first check after the interval that Redis answers ends the outage.
 */
export class RedisThrottlerStorage implements ThrottlerStorage, OnApplicationShutdown {
  private readonly logger = new Logger('RateLimitStore');
  private readonly redis: Redis;
  private readonly local = new FixedWindowStorage();
  private skipUntil = 0;
  private connectedOnce = false;
  private failingSince: number | undefined;
  private lastError: string | undefined;

  constructor(private readonly options: RedisThrottlerStorageOptions) {
    this.redis = new Redis(options.url, {
      // A check sent while first connecting waits (bounded by the timeout); once the connection has been
      // up, checks fail at once while it is not (see increment).
      maxRetriesPerRequest: 0,
      connectTimeout: Math.max(1_000, options.commandTimeoutMs),
      retryStrategy: (attempt) => Math.min(attempt * 100, options.retryIntervalMs),
      lazyConnect: false,
    });
    // Without a listener, ioredis reports every failed reconnect as an unhandled error event.
    this.redis.on('error', (error: Error) => this.noteFailure(error));
    // Reconnected: the next check tries Redis at once instead of waiting out the retry interval.
    this.redis.on('ready', () => {
      this.connectedOnce = true;
      this.skipUntil = 0;
    });
    this.redis.defineCommand('tesseraHit', { numberOfKeys: 1, lua: INCREMENT_SCRIPT });
  }

  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<Window> {
    if (Date.now() >= this.skipUntil) {
      try {
        // Once connected, a check never queues behind a reconnect: it would wait, then count late.
        if (this.connectedOnce && this.redis.status !== 'ready') {
          throw new Error(`connection ${this.redis.status}`);
        }
        const [hits, leftMs] = await withTimeout(
          (this.redis as unknown as HitCommand).tesseraHit(
            `${this.options.keyPrefix}rl:${throttlerName}:${key}`,
            ttl,
          ),
          this.options.commandTimeoutMs,
          () => new Error(`no answer within ${this.options.commandTimeoutMs} ms`),
        );
        this.noteSuccess();
        const secondsLeft = Math.ceil(leftMs / 1000);
        const isBlocked = hits > limit;
        return {
          totalHits: hits,
          timeToExpire: secondsLeft,
          isBlocked,
          timeToBlockExpire: isBlocked ? secondsLeft : 0,
        };
      } catch (error) {
        this.noteFailure(error as Error);
      }
    }
    this.options.events?.onFallback(throttlerName);
    if (this.options.failClosed.has(throttlerName)) {
      throw new RateLimitUnavailable();
    }
    return this.local.increment(key, ttl, limit, blockDuration, throttlerName);
  }

  state(): RedisStoreState {
    return {
      reachable: this.failingSince === undefined,
      failingSince:
        this.failingSince === undefined ? undefined : new Date(this.failingSince).toISOString(),
      lastError: this.lastError,
    };
  }

  /** One PING within the command timeout: the readiness detail's probe (never throws). */
  async probe(): Promise<RedisStoreState> {
    try {
      await withTimeout(
        this.redis.ping(),
        this.options.commandTimeoutMs,
        () => new Error(`no answer within ${this.options.commandTimeoutMs} ms`),
      );
      this.noteSuccess();
    } catch (error) {
      this.noteFailure(error as Error);
    }
    return this.state();
  }

  async onApplicationShutdown(): Promise<void> {
    this.local.onModuleDestroy();
    // QUIT when connected (a clean close), bounded; then no reconnect timer may survive the shutdown.
    if (this.redis.status === 'ready') {
      await withTimeout(
        this.redis.quit(),
        this.options.commandTimeoutMs,
        () => new Error('quit'),
      ).catch(() => undefined);
    }
    this.redis.disconnect();
  }

  private noteSuccess(): void {
    // Answered (a check, or the readiness probe): the next check uses Redis again.
    this.skipUntil = 0;
    if (this.failingSince !== undefined) {
      this.logger.log(
        `Redis answers again after ${Date.now() - this.failingSince} ms: shared limits resume`,
      );
      this.failingSince = undefined;
      this.lastError = undefined;
      this.options.events?.onStateChange(true);
    }
  }

  private noteFailure(error: Error): void {
    this.skipUntil = Date.now() + this.options.retryIntervalMs;
    this.lastError = error.message;
    if (this.failingSince === undefined) {
      this.failingSince = Date.now();
      this.logger.warn(
        `Redis fails (${error.message}): sign-in answers 503, other limits count per instance`,
      );
      this.options.events?.onStateChange(false);
    }
  }
}

interface HitCommand {
  tesseraHit(key: string, ttlMs: number): Promise<[number, number]>;
}
