import { PollingLoop } from './polling-loop';

/** A log that keeps its lines. */
const lines = () => {
  const out: string[] = [];
  return { out, log: { log: (m: string) => out.push(`log ${m}`), warn: (m: string) => out.push(`warn ${m}`) } };
};

/** Resolves once `cond` holds, checking on every turn of the event loop (bounded). */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  if (!cond()) throw new Error('condition never held');
}

describe('PollingLoop', () => {
  it('runs the next pass at once while passes say more is waiting, then waits for the poll', async () => {
    const { log } = lines();
    let passes = 0;
    const loop = new PollingLoop(async () => ++passes < 3, { what: 'x', pollMs: () => 60_000, log });
    loop.start();
    await until(() => passes === 3);
    await new Promise((r) => setImmediate(r));
    expect(passes).toBe(3); // the third said no more: it waits the (long) poll
    await loop.stop();
    expect(passes).toBe(3);
  });

  it('wake() ends the wait', async () => {
    const { log } = lines();
    let passes = 0;
    const loop = new PollingLoop(async () => (passes++, false), { what: 'x', pollMs: () => 60_000, log });
    loop.start();
    await until(() => passes === 1);
    loop.wake();
    await until(() => passes === 2);
    await loop.stop();
  });

  it('logs an outage once, and once when passes work again', async () => {
    const { log, out } = lines();
    let passes = 0;
    const loop = new PollingLoop(
      async () => {
        passes++;
        if (passes <= 3) throw new Error('connection refused');
        return passes < 5;
      },
      { what: 'relaying card events', pollMs: () => 0, log },
    );
    loop.start();
    await until(() => passes >= 5);
    await loop.stop();
    expect(out).toEqual(['warn relaying card events failed, the work stays for the next pass: connection refused', 'log relaying card events again']);
  });

  it('stop() waits for the pass in hand and takes no new one', async () => {
    const { log } = lines();
    let release!: () => void;
    let passes = 0;
    let finished = false;
    const loop = new PollingLoop(
      async () => {
        passes++;
        await new Promise<void>((r) => (release = r));
        finished = true;
        return true;
      },
      { what: 'x', pollMs: () => 0, log },
    );
    loop.start();
    await until(() => passes === 1);
    const stopped = loop.stop();
    let done = false;
    void stopped.then(() => (done = true));
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    release();
    await stopped;
    expect(finished).toBe(true);
    expect(passes).toBe(1);
  });
});
