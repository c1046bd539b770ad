import { FixedWindowStorage } from 'src/platform/http/fixed-window-storage';

describe('FixedWindowStorage', () => {
  it('counts hits per key and throttler within a window, then starts a new window', async () => {
    let now = 1_000_000;
    const storage = new FixedWindowStorage(() => now);
    try {
      for (let i = 1; i <= 3; i++) {
        expect(await storage.increment('ip:1', 60_000, 3, 0, 'default')).toMatchObject({
          totalHits: i,
          isBlocked: false,
        });
      }
      expect(await storage.increment('ip:1', 60_000, 3, 0, 'default')).toMatchObject({
        totalHits: 4,
        isBlocked: true,
        timeToBlockExpire: 60,
      });
      expect(await storage.increment('ip:2', 60_000, 3, 0, 'default')).toMatchObject({
        totalHits: 1,
      });
      expect(await storage.increment('ip:1', 60_000, 3, 0, 'auth')).toMatchObject({ totalHits: 1 });
      now += 30_000;
      expect(await storage.increment('ip:1', 60_000, 3, 0, 'default')).toMatchObject({
        isBlocked: true,
        timeToExpire: 30,
      });
      now += 30_000;
      expect(await storage.increment('ip:1', 60_000, 3, 0, 'default')).toMatchObject({
        totalHits: 1,
        isBlocked: false,
      });
    } finally {
      storage.onModuleDestroy();
    }
  });
});
