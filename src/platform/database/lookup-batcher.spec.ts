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

  it('retries a failed batch key by key, so only the caller whose key fails gets the failure', async () => {
    const batches: string[][] = [];
    const batcher = new LookupBatcher<string, string>((keys) => {
      batches.push([...keys]);
      return keys.includes('bad\u0000')
        ? Promise.reject(new Error('invalid byte sequence'))
        : Promise.resolve(keys.map((key) => (key === 'missing' ? undefined : key.toUpperCase())));
    });
    const settled = await Promise.allSettled(
      ['a', 'bad\u0000', 'missing', 'b'].map((key) => batcher.load(key)),
    );
    expect(settled).toEqual([
      { status: 'fulfilled', value: 'A' },
      { status: 'rejected', reason: new Error('invalid byte sequence') },
      { status: 'fulfilled', value: undefined },
      { status: 'fulfilled', value: 'B' },
    ]);
    expect(batches).toEqual([
      ['a', 'bad\u0000', 'missing', 'b'],
      ['a'],
      ['bad\u0000'],
      ['missing'],
      ['b'],
    ]);
  });

  it('fails every caller of a batch that keeps failing, each once, and recovers afterwards', async () => {
    let fail = true;
    let calls = 0;
    const batcher = new LookupBatcher<string, string>((keys) => {
      calls++;
      return fail ? Promise.reject(new Error('connection lost')) : Promise.resolve([...keys]);
    });
    const failed = Promise.allSettled([batcher.load('a'), batcher.load('b')]);
    await expect(failed).resolves.toEqual([
      { status: 'rejected', reason: new Error('connection lost') },
      { status: 'rejected', reason: new Error('connection lost') },
    ]);
    expect(calls).toBe(3);
    fail = false;
    await expect(batcher.load('c')).resolves.toBe('c');
  });

  it('does not retry a single-key batch', async () => {
    const load = jest.fn((keys: readonly string[]) =>
      keys.length > 0 ? Promise.reject(new Error('nope')) : Promise.resolve([]),
    );
    const batcher = new LookupBatcher<string, string>(load);
    await expect(batcher.load('a')).rejects.toThrow('nope');
    expect(load).toHaveBeenCalledTimes(1);
  });
});
