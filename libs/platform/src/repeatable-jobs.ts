import { Logger } from '@nestjs/common';
import { Queue as BullQueue } from 'bull';

/**
 * The repeatable sweeps of one Bull queue (jobs without payload, each named), kept
 * defined in Redis: `ensure` registers every name at `every` ms, idempotently (a repeat
 * definition of one of these names with another interval, left from another setting, is
 * removed first; one already there is left alone), and `start` runs it again every
 * `checkEveryMs`, so a definition Redis lost (a flush, a failover, a fresh Redis) comes
 * back within that time instead of never. The periodic check only defines names that have
 * no definition at all: two workers started with different intervals (a rolling change
 * of the setting) do not keep replacing each other's. A failed check is logged once and
 * tried again at the next one.
 */
export class RepeatableJobs {
  private readonly log: Logger;
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private failing = false;

  constructor(
    private readonly queue: BullQueue,
    private readonly names: readonly string[],
    private readonly every: number,
    private readonly checkEveryMs: number,
  ) {
    this.log = new Logger(`RepeatableJobs(${queue.name})`);
  }

  /**
   * Makes every sweep defined at `every` ms (`replace`: a definition at another interval is
   * removed first; without it, any definition of the name will do); answers the names it had to add.
   */
  async ensure(replace = true): Promise<string[]> {
    const defined = await this.queue.getRepeatableJobs();
    const ours = new Set(this.names);
    const present = new Set<string>();
    for (const job of defined) {
      if (!ours.has(job.name)) continue;
      if (Number(job.every) === this.every || !replace) present.add(job.name);
      else await this.queue.removeRepeatableByKey(job.key);
    }
    const added: string[] = [];
    for (const name of this.names) {
      if (present.has(name)) continue;
      await this.queue.add(name, {}, { repeat: { every: this.every }, jobId: name, removeOnComplete: true, removeOnFail: true });
      added.push(name);
    }
    return added;
  }

  /** Registers the sweeps now, then checks them every `checkEveryMs` until `stop`. */
  async start(): Promise<void> {
    await this.ensure();
    this.timer = setInterval(() => void this.check(), this.checkEveryMs);
    this.timer.unref();
  }

  /** Stops checking and waits for a check in hand. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private async check(): Promise<void> {
    if (this.running) return;
    this.running = this.ensure(false)
      .then((added) => {
        if (added.length && !this.failing) this.log.warn(`repeatable sweep(s) ${added.join(', ')} were gone from Redis: defined again`);
        if (this.failing) this.log.log('repeatable sweeps checked again');
        this.failing = false;
      })
      .catch((err: unknown) => {
        if (!this.failing)
          this.log.warn(`checking the repeatable sweeps failed, trying again in ${this.checkEveryMs} ms: ${err instanceof Error ? err.message : String(err)}`);
        this.failing = true;
      })
      .finally(() => (this.running = undefined));
    await this.running;
  }
}
