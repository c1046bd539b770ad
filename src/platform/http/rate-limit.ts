import { Injectable, Module, SetMetadata } from '@nestjs/common';
import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ThrottlerGuard, ThrottlerModule } from '@nestjs/throttler';
import type {
  ThrottlerLimitDetail,
  ThrottlerModuleOptions,
  ThrottlerStorage,
} from '@nestjs/throttler';

import { APP_CONFIG } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';
import type { AuthenticatedRequest } from 'src/platform/auth/authenticated.decorator';
import { DomainError } from 'src/platform/errors/domain-error';
import { Readiness } from 'src/platform/health/readiness';
import { FixedWindowStorage } from 'src/platform/http/fixed-window-storage';
import { RedisThrottlerStorage } from 'src/platform/http/redis-throttler-storage';
import { Metrics } from 'src/platform/metrics/metrics';

const RATE_LIMIT_CLASS = 'tessera:rate-limit-class';
type RateLimitClass = 'auth' | 'validate';

/** Marks sign-in routes (login, MFA, refresh): limited per client IP by the stricter `auth` budget. */
export const AuthRateLimited = (): MethodDecorator => SetMetadata(RATE_LIMIT_CLASS, 'auth');

/** Marks license-key routes: one per-IP validate budget, shared with validate-key, not the anonymous one. */
export const ValidateRateLimited = (): MethodDecorator => SetMetadata(RATE_LIMIT_CLASS, 'validate');

export class RateLimited extends DomainError {
  readonly code = 'RATE_LIMITED';
  readonly status = 429;
  constructor(retryAfterSeconds: number) {
    super(`Too many requests: retry after ${retryAfterSeconds} s.`, {
      retryAfter: retryAfterSeconds,
    });
  }
}

function classOf(reflector: Reflector, context: ExecutionContext): RateLimitClass | undefined {
  return reflector.get<RateLimitClass | undefined>(RATE_LIMIT_CLASS, context.getHandler());
}

const VALIDATE_THROTTLER = 'validate';
const VALIDATE_TTL_MS = 60_000;
const ipKey = (ip: string): string => `ip:${ip}`;
const perIp = (req: Record<string, unknown>): string =>
  ipKey((req as unknown as AuthenticatedRequest).ip);
/**
 * One window per budget and tracker, whichever route counts (the throttler's default key names the
 * handler, which would give each route a budget of its own). The budget's name stays in the key so that a
 * store which keys by the key alone (a shared Redis store) keeps the budgets of one IP apart too.
 */
const budgetKey = (_context: unknown, tracker: string, throttlerName: string): string =>
  `${throttlerName}:${tracker}`;

/**
 * Counts one hit against the per-IP validate budget, for the validation route outside Nest's pipeline:
 * the same window, in the same storage, as the `@ValidateRateLimited()` routes, so an IP gets the budget
 * once across all of them (inject the storage with `@InjectThrottlerStorage()`).
 */
export function countValidateHit(
  storage: ThrottlerStorage,
  ip: string,
  limit: number,
): ReturnType<ThrottlerStorage['increment']> {
  const key = budgetKey(undefined, ipKey(ip), VALIDATE_THROTTLER);
  return storage.increment(key, VALIDATE_TTL_MS, limit, 0, VALIDATE_THROTTLER);
}

function limitFor(config: AppConfig, context: ExecutionContext): number {
  const actor = context.switchToHttp().getRequest<AuthenticatedRequest>().actor;
  if (actor?.type === 'api-key') {
    return config.rateLimit.apiKeyPerMinute;
  }
  return actor?.type === 'admin'
    ? config.rateLimit.adminPerMinute
    : config.rateLimit.anonymousPerMinute;
}

/**
 * Rate limits per API key, per admin, and per IP for anonymous callers, each with its own per-minute
 * budget; sign-in routes also count against a stricter per-IP budget, and validation routes (the raw
 * validate-key route included, see countValidateHit) against one per-IP validate budget. Headers: `RateLimit-Limit`,
 * `RateLimit-Remaining`, `RateLimit-Reset`, and `Retry-After` on a 429 problem.
 * Counting is an O(1) fixed window: in this process's memory (FixedWindowStorage, per instance), or with
 * REDIS_URL in Redis, one window for all instances (RedisThrottlerStorage, see rateLimitStorage).
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  protected override headerPrefix = 'RateLimit';

  protected override getTracker(req: Record<string, unknown>): Promise<string> {
    const request = req as unknown as AuthenticatedRequest;
    const actor = request.actor;
    return Promise.resolve(
      actor?.id !== null && actor?.id !== undefined
        ? `${actor.type}:${actor.id}`
        : `ip:${request.ip}`,
    );
  }

  protected override throwThrottlingException(
    _context: ExecutionContext,
    detail: ThrottlerLimitDetail,
  ): Promise<void> {
    throw new RateLimited(Math.max(1, Math.ceil(detail.timeToBlockExpire)));
  }
}

/** Sign-in is refused while Redis fails; every other budget counts per instance (docs/adr/0011). */
const FAIL_CLOSED_BUDGETS: ReadonlySet<string> = new Set(['auth']);

/**
 * The one storage of every budget: Redis with REDIS_URL (its reachability in the readiness detail
 * `rateLimitStore` and in metrics), else this process's memory.
 */
function rateLimitStorage(
  config: AppConfig,
  metrics: Metrics | undefined,
  readiness: Readiness | undefined,
): ThrottlerStorage {
  if (config.redis.url === undefined) {
    return new FixedWindowStorage();
  }
  const fallbacks =
    metrics &&
    metrics.children(
      metrics.counter({
        name: 'tessera_rate_limit_store_fallbacks_total',
        help:
          'Rate-limit checks made without Redis (it failed or did not answer within REDIS_TIMEOUT_MS), by ' +
          'budget: refused for sign-in, counted per instance otherwise.',
        labelNames: ['budget'],
      }),
      ['default', 'auth', VALIDATE_THROTTLER],
    );
  const up = metrics?.gauge({
    name: 'tessera_rate_limit_store_up',
    help: '1 while the shared rate-limit store (Redis) answers, 0 while limits fall back (docs/adr/0011).',
  });
  up?.set(1);
  const storage = new RedisThrottlerStorage({
    ...config.redis,
    url: config.redis.url,
    failClosed: FAIL_CLOSED_BUDGETS,
    events: {
      onFallback: (budget) => fallbacks?.[budget as keyof typeof fallbacks]?.inc(),
      onStateChange: (reachable) => up?.set(reachable ? 1 : 0),
    },
  });
  // A detail, not a failing check: with Redis down the instance still serves (the outage policy), and
  // failing readiness on every instance at once would take the whole service out of the balancer.
  // Without the error message: on this unauthenticated route it could name Redis's host and port.
  readiness?.register('rateLimitStore', async () => {
    const { reachable, failingSince } = await storage.probe();
    return {
      store: 'redis',
      reachable,
      ...(reachable
        ? {}
        : {
            failingSince,
            policy: 'sign-in answers 503 RATE_LIMIT_UNAVAILABLE; other limits count per instance',
          }),
    };
  });
  return storage;
}

@Module({
  imports: [
    ThrottlerModule.forRootAsync({
      inject: [
        APP_CONFIG,
        Reflector,
        { token: Metrics, optional: true },
        { token: Readiness, optional: true },
      ],
      useFactory: (
        config: AppConfig,
        reflector: Reflector,
        metrics?: Metrics,
        readiness?: Readiness,
      ): ThrottlerModuleOptions => ({
        storage: rateLimitStorage(config, metrics, readiness),
        throttlers: [
          {
            name: 'default',
            ttl: 60_000,
            limit: (context) => limitFor(config, context),
            skipIf: (context) => classOf(reflector, context) === 'validate',
          },
          {
            name: 'auth',
            ttl: 60_000,
            limit: config.rateLimit.authPerMinute,
            getTracker: perIp,
            // One budget per IP for login, MFA, refresh and password: per handler, each route would
            // multiply the attempts a guesser gets.
            generateKey: budgetKey,
            skipIf: (context) => classOf(reflector, context) !== 'auth',
          },
          {
            name: VALIDATE_THROTTLER,
            ttl: VALIDATE_TTL_MS,
            limit: config.rateLimit.validatePerMinute,
            getTracker: perIp,
            // One window per IP for every validate route, shared with the raw route through countValidateHit.
            generateKey: budgetKey,
            skipIf: (context) => classOf(reflector, context) !== 'validate',
          },
        ],
      }),
    }),
  ],
  providers: [RateLimitGuard],
  exports: [RateLimitGuard, ThrottlerModule],
})
export class RateLimitModule {}
