import {
  RateLimitUnavailable,
  RedisThrottlerStorage,
} from 'src/platform/http/redis-throttler-storage';
import type { RedisThrottlerStorageOptions } from 'src/platform/http/redis-throttler-storage';
import { startRedisServer } from '../../../bench/redis-server';
import type { RedisServer } from '../../../bench/redis-server';

const TTL_MS = 60_000;

/** The shared rate-limit store against a real redis-server of this file's own. */
describe('RedisThrottlerStorage', () => {
  let redis: RedisServer;
  const stores: RedisThrottlerStorage[] = [];
  let prefix = 0;

  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await Promise.all(stores.map((store) => store.onApplicationShutdown()));
    await redis.close();
  });

  // A generous timeout by default: the tests about counting must not see a loaded machine as an outage.
  function newStore(overrides: Partial<RedisThrottlerStorageOptions> = {}): RedisThrottlerStorage {
    const store = new RedisThrottlerStorage({
      url: redis.url,
      commandTimeoutMs: 1_000,
      retryIntervalMs: 300,
      keyPrefix: `t${(prefix += 1)}:`,
      failClosed: new Set(['auth']),
      ...overrides,
    });
    stores.push(store);
    return store;
  }

  it('counts concurrent hits from several clients atomically: each sees a distinct count', async () => {
    const options = { keyPrefix: 'shared-count:' };
    const [a, b, c] = [newStore(options), newStore(options), newStore(options)];
    const results = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        [a, b, c][i % 3].increment('ip:1', TTL_MS, 100, 0, 'default'),
      ),
    );
    const counts = results.map((r) => r.totalHits).sort((x, y) => x - y);
    expect(counts).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(results.filter((r) => !r.isBlocked)).toHaveLength(100);
    expect(results.filter((r) => r.isBlocked).every((r) => r.timeToBlockExpire > 0)).toBe(true);
  });

  it('keeps budgets and keys apart, and opens a new window when the last one expires', async () => {
    const store = newStore();
    await store.increment('ip:1', 300, 1, 0, 'auth');
    expect((await store.increment('ip:1', 300, 1, 0, 'auth')).isBlocked).toBe(true);
    expect((await store.increment('ip:1', 300, 1, 0, 'validate')).totalHits).toBe(1);
    expect((await store.increment('ip:2', 300, 1, 0, 'auth')).totalHits).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 400));
    const fresh = await store.increment('ip:1', 300, 1, 0, 'auth');
    expect(fresh).toMatchObject({ totalHits: 1, isBlocked: false, timeToExpire: 1 });
  });

  it('while Redis is stopped: refuses fail-closed budgets, counts the others locally, and recovers when it returns', async () => {
    const fallbacks: string[] = [];
    const changes: boolean[] = [];
    const store = newStore({
      events: { onFallback: (b) => fallbacks.push(b), onStateChange: (up) => changes.push(up) },
    });
    expect((await store.increment('ip:9', TTL_MS, 5, 0, 'validate')).totalHits).toBe(1);

    await redis.stop();
    const started = Date.now();
    await expect(store.increment('ip:9', TTL_MS, 5, 0, 'auth')).rejects.toBeInstanceOf(
      RateLimitUnavailable,
    );
    // Local windows start at 1: the instance limits alone while the shared count is out of reach.
    expect((await store.increment('ip:9', TTL_MS, 5, 0, 'validate')).totalHits).toBe(1);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect((await store.probe()).reachable).toBe(false);
    expect(store.state()).toMatchObject({ reachable: false, failingSince: expect.any(String) });
    expect(changes).toEqual([false]);

    await redis.start();
    const deadline = Date.now() + 5_000;
    while (!(await store.probe()).reachable && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // The restarted server is empty: the shared window starts again.
    expect((await store.increment('ip:9', TTL_MS, 5, 0, 'auth')).totalHits).toBe(1);
    expect(changes).toEqual([false, true]);
    expect(fallbacks).toEqual(['auth', 'validate']);
  });

  it('bounds each check by the timeout while Redis stalls, then skips it until the retry interval passes', async () => {
    const store = newStore({ commandTimeoutMs: 150, retryIntervalMs: 500 });
    await store.increment('ip:5', TTL_MS, 5, 0, 'default');
    redis.pause();
    try {
      let started = Date.now();
      await expect(store.increment('ip:5', TTL_MS, 5, 0, 'auth')).rejects.toBeInstanceOf(
        RateLimitUnavailable,
      );
      const firstWait = Date.now() - started;
      expect(firstWait).toBeGreaterThanOrEqual(140);
      expect(firstWait).toBeLessThan(600);
      // Known to be failing: no wait at all.
      started = Date.now();
      await store.increment('ip:5', TTL_MS, 5, 0, 'default');
      expect(Date.now() - started).toBeLessThan(50);
    } finally {
      redis.resume();
    }
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect((await store.increment('ip:5', TTL_MS, 5, 0, 'default')).totalHits).toBeGreaterThan(1);
    expect(store.state().reachable).toBe(true);
  });
});
