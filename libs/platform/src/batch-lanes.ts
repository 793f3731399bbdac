import { Logger } from '@nestjs/common';

/** One request waiting for its batch. */
interface Waiter<T, R> {
  item: T;
  /** Unix ms after which the caller no longer waits (the transport request's deadline). */
  deadline: number | undefined;
  resolve: (answer: R | Promise<R>) => void;
  reject: (err: unknown) => void;
}

/** The requests of one lane (a tenant, or a share of its requests): batches never mix lanes, so no tenant waits for another tenant's locks. */
interface Lane<T, R> {
  waiting: Array<Waiter<T, R>>;
  running: number;
  /** A batch has begun and does not hold its locks yet. */
  preparing: boolean;
}

export interface BatchLanesOptions<T, R> {
  /** Named in the log lines. */
  name: string;
  /**
   * Batches of a lane in flight at once: one holding its locks, and the next one getting
   * ready behind it. The next batch starts only once the previous one holds its locks
   * (the batch calls `onLocked`), so requests arriving meanwhile gather into it.
   */
  maxBatches: number;
  /** How many of the waiting requests (oldest first) the next batch takes: at least 1. */
  take: (waiting: readonly T[]) => number;
  /**
   * Answers a batch in one transaction, in the same order. It calls `onLocked` once it
   * holds its locks. An answer may be a promise (a request sent on to another batch).
   */
  run: (items: T[], onLocked: () => void) => Promise<Array<R | Promise<R>>>;
  /** The answer to a request whose caller gave up while it waited: it is not run. */
  late: () => R;
}

/**
 * Per-lane batching of requests that each need a transaction under row locks: every
 * request waiting in this process goes into the next batch, one transaction answers
 * them all. A batch that fails as a whole (a deadlock, a lost connection) is run again
 * request by request, so one bad request cannot fail the others.
 */
export class BatchLanes<T, R> {
  private readonly log: Logger;
  private readonly lanes = new Map<string, Lane<T, R>>();

  constructor(private readonly opts: BatchLanesOptions<T, R>) {
    this.log = new Logger(`BatchLanes:${opts.name}`);
  }

  /** Queues `item` in `lane`; `deadline`: Unix ms after which the caller no longer waits. */
  submit(lane: string, item: T, deadline?: number): Promise<R> {
    return new Promise((resolve, reject) => {
      let l = this.lanes.get(lane);
      if (!l) this.lanes.set(lane, (l = { waiting: [], running: 0, preparing: false }));
      l.waiting.push({ item, deadline, resolve, reject });
      this.pump(lane, l);
    });
  }

  private pump(key: string, lane: Lane<T, R>): void {
    while (lane.running < this.opts.maxBatches && !lane.preparing && lane.waiting.length) {
      const n = Math.max(1, this.opts.take(lane.waiting.map((w) => w.item)));
      const batch = lane.waiting.splice(0, n);
      lane.running++;
      lane.preparing = true;
      let locked = false;
      const onLocked = () => {
        if (locked) return;
        locked = true;
        lane.preparing = false;
        this.pump(key, lane);
      };
      void this.runBatch(batch, onLocked).finally(() => {
        lane.running--;
        onLocked();
        this.pump(key, lane);
      });
    }
    if (!lane.running && !lane.waiting.length) this.lanes.delete(key);
  }

  private async runBatch(waiting: Array<Waiter<T, R>>, onLocked: () => void): Promise<void> {
    const realNow = Date.now();
    const batch = waiting.filter((w) => w.deadline === undefined || w.deadline >= realNow);
    for (const w of waiting) if (!batch.includes(w)) w.resolve(this.opts.late());
    if (!batch.length) return;
    try {
      const started = performance.now();
      const answers = await this.opts.run(
        batch.map((w) => w.item),
        onLocked,
      );
      this.log.verbose(`batch of ${batch.length} in ${(performance.now() - started).toFixed(1)} ms (${waiting.length - batch.length} past their deadline)`);
      batch.forEach((w, i) => w.resolve(answers[i]));
    } catch (err) {
      if (batch.length === 1) return batch[0].reject(err);
      this.log.warn(`batch of ${batch.length} failed (${(err as Error).message}); running each alone`);
      for (const w of batch) {
        await this.opts.run([w.item], onLocked).then((a) => w.resolve(a[0]), w.reject);
      }
    }
  }
}
