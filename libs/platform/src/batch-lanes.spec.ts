import { Logger } from '@nestjs/common';
import { BatchLanes } from './batch-lanes';

/** A promise resolved from outside. */
const gate = () => {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
};

describe('BatchLanes', () => {
  beforeAll(() => Logger.overrideLogger(false));
  afterAll(() => Logger.overrideLogger(['log', 'error', 'warn']));

  it('gathers the requests waiting while a batch prepares into the next batch, and answers each in order', async () => {
    const batches: number[][] = [];
    const first = gate();
    const lanes = new BatchLanes<number, string>({
      name: 'test',
      maxBatches: 2,
      take: (w) => w.length,
      run: async (items, onLocked) => {
        batches.push(items);
        if (batches.length === 1) await first.opened;
        onLocked();
        return items.map((i) => `answer ${i}`);
      },
      late: () => 'late',
    });
    const answers = [1, 2, 3, 4].map((i) => lanes.submit('t', i));
    first.open();
    expect(await Promise.all(answers)).toEqual(['answer 1', 'answer 2', 'answer 3', 'answer 4']);
    // 1 went alone; 2-4 arrived while it had not taken its locks and went together.
    expect(batches).toEqual([[1], [2, 3, 4]]);
  });

  it('takes at most what `take` allows per batch', async () => {
    const batches: number[][] = [];
    const lanes = new BatchLanes<number, number>({
      name: 'test',
      maxBatches: 1,
      take: (w) => Math.min(w.length, 2),
      run: async (items, onLocked) => {
        onLocked();
        batches.push(items);
        return items;
      },
      late: () => -1,
    });
    expect(await Promise.all([1, 2, 3, 4, 5].map((i) => lanes.submit('t', i)))).toEqual([1, 2, 3, 4, 5]);
    expect(batches).toEqual([[1], [2, 3], [4, 5]]);
  });

  it("never mixes lanes, and a lane does not wait for another lane's batch", async () => {
    const held = gate();
    const seen: string[] = [];
    const lanes = new BatchLanes<string, string>({
      name: 'test',
      maxBatches: 1,
      take: (w) => w.length,
      run: async (items) => {
        seen.push(items.join(','));
        if (items[0].startsWith('a')) await held.opened;
        return items;
      },
      late: () => 'late',
    });
    const a = lanes.submit('A', 'a1');
    expect(await lanes.submit('B', 'b1')).toBe('b1');
    held.open();
    expect(await a).toBe('a1');
    expect(seen).toEqual(['a1', 'b1']);
  });

  it('runs each request of a failed batch alone, so only the bad one fails', async () => {
    const runs: number[][] = [];
    const lanes = new BatchLanes<number, number>({
      name: 'test',
      maxBatches: 1,
      take: (w) => w.length,
      run: async (items, onLocked) => {
        onLocked();
        runs.push(items);
        if (items.includes(13)) throw new Error('deadlock detected');
        return items.map((i) => i * 10);
      },
      late: () => -1,
    });
    const first = lanes.submit('t', 0);
    // The batch of 0 runs first; 12, 13, 14 gather behind it into one batch that fails.
    const rest = [12, 13, 14].map((i) =>
      lanes.submit('t', i).then(
        (v) => v,
        (e: Error) => e.message,
      ),
    );
    expect(await first).toBe(0);
    expect(await Promise.all(rest)).toEqual([120, 'deadlock detected', 140]);
    expect(runs).toEqual([[0], [12, 13, 14], [12], [13], [14]]);
  });

  it('answers a request whose deadline passed while it waited with `late`, without running it', async () => {
    const runs: string[][] = [];
    const lanes = new BatchLanes<string, string>({
      name: 'test',
      maxBatches: 1,
      take: (w) => w.length,
      run: async (items) => {
        runs.push(items);
        return items;
      },
      late: () => 'late',
    });
    expect(await Promise.all([lanes.submit('t', 'past', Date.now() - 1), lanes.submit('t', 'future', Date.now() + 60_000), lanes.submit('t', 'none')])).toEqual(
      ['late', 'future', 'none'],
    );
    expect(runs.flat()).toEqual(['future', 'none']);
  });
});
