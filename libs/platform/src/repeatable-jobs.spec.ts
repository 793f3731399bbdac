import Bull from 'bull';
import { RepeatableJobs } from './repeatable-jobs';

/** Against the real Redis (REDIS_URL of the machine), in a queue of its own that the test removes. */
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('RepeatableJobs', () => {
  let queue: Bull.Queue;
  let sweeps: RepeatableJobs | undefined;

  beforeEach(() => {
    queue = new Bull(`repeatable-spec-${process.pid}-${Math.random().toString(36).slice(2)}`, REDIS_URL, { prefix: 'loyalty-test' });
  });

  afterEach(async () => {
    await sweeps?.stop();
    sweeps = undefined;
    await queue.obliterate({ force: true });
    await queue.close();
  });

  const defined = async () => (await queue.getRepeatableJobs()).map((j) => `${j.name}@${j.every}`).sort();

  it('registers each sweep once, however often it is asked', async () => {
    sweeps = new RepeatableJobs(queue, ['a', 'b'], 60_000, 60_000);
    expect(await sweeps.ensure()).toEqual(['a', 'b']);
    expect(await sweeps.ensure()).toEqual([]);
    await new RepeatableJobs(queue, ['a', 'b'], 60_000, 60_000).ensure();
    expect(await defined()).toEqual(['a@60000', 'b@60000']);
  });

  it('replaces a definition left with another interval, and leaves other names alone', async () => {
    await queue.add('a', {}, { repeat: { every: 5_000 }, jobId: 'a' });
    await queue.add('other', {}, { repeat: { every: 5_000 }, jobId: 'other' });
    sweeps = new RepeatableJobs(queue, ['a'], 60_000, 60_000);
    expect(await sweeps.ensure()).toEqual(['a']);
    expect(await defined()).toEqual(['a@60000', 'other@5000']);
  });

  it('does not fight another worker over the interval once started: the periodic check only adds what is missing', async () => {
    sweeps = new RepeatableJobs(queue, ['a'], 60_000, 50);
    await sweeps.start();
    // Another worker, started later with another setting, replaced the definition.
    await new RepeatableJobs(queue, ['a'], 30_000, 60_000).ensure();
    await new Promise((r) => setTimeout(r, 300));
    expect(await defined()).toEqual(['a@30000']);
  });

  it('defines a sweep again within checkEveryMs after Redis lost it', async () => {
    sweeps = new RepeatableJobs(queue, ['a', 'b'], 60_000, 50);
    await sweeps.start();
    expect(await defined()).toEqual(['a@60000', 'b@60000']);
    // What a FLUSHDB does to this queue: every key gone.
    await queue.obliterate({ force: true });
    expect(await defined()).toEqual([]);
    const until = Date.now() + 5_000;
    while ((await defined()).length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(await defined()).toEqual(['a@60000', 'b@60000']);
    // The next run of each is scheduled too (a delayed job), not only the definition.
    expect(await queue.getDelayedCount()).toBe(2);
  });
});
