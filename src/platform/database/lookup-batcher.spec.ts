import { LookupBatcher } from 'src/platform/database/lookup-batcher';

describe('LookupBatcher', () => {
  it('sends the lookups of one event-loop turn as one batch, answering each caller its own value', async () => {
    const batches: string[][] = [];
    const batcher = new LookupBatcher<string, string>((keys) => {
      batches.push([...keys]);
      return Promise.resolve(
        keys.map((key) => (key === 'missing' ? undefined : key.toUpperCase())),
      );
    });
    const answers = await Promise.all(['a', 'missing', 'b'].map((key) => batcher.load(key)));
    expect(answers).toEqual(['A', undefined, 'B']);
    expect(batches).toEqual([['a', 'missing', 'b']]);

    await expect(batcher.load('c')).resolves.toBe('C');
    expect(batches).toEqual([['a', 'missing', 'b'], ['c']]);
  });

  it('splits large bursts into batches of at most maxBatch', async () => {
    const sizes: number[] = [];
    const batcher = new LookupBatcher<number, number>((keys) => {
      sizes.push(keys.length);
      return Promise.resolve(keys.map((key) => key * 2));
    }, 4);
    const keys = Array.from({ length: 10 }, (_, i) => i);
    await expect(Promise.all(keys.map((key) => batcher.load(key)))).resolves.toEqual(
      keys.map((key) => key * 2),
    );
    expect(sizes).toEqual([4, 4, 2]);
  });

  it('fails every caller of a failed batch, and only them', async () => {
    let fail = true;
    const batcher = new LookupBatcher<string, string>((keys) =>
      fail ? Promise.reject(new Error('connection lost')) : Promise.resolve([...keys]),
    );
    const failed = Promise.allSettled([batcher.load('a'), batcher.load('b')]);
    await expect(failed).resolves.toEqual([
      { status: 'rejected', reason: new Error('connection lost') },
      { status: 'rejected', reason: new Error('connection lost') },
    ]);
    fail = false;
    await expect(batcher.load('c')).resolves.toBe('c');
  });
});
