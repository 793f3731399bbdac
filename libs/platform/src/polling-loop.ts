/** What a PollingLoop logs through: Nest's Logger fits. */
export interface LoopLog {
  log(message: string): void;
  warn(message: string): void;
}

export interface PollingLoopOptions {
  /** What a pass does, for the log: `relaying card events` gives "relaying card events failed, ..." and "relaying card events again". */
  what: string;
  /** The wait after a pass that found less than a full batch (it ends early on wake() or stop()). */
  pollMs: () => number;
  log: LoopLog;
}

/**
 * The loop of a worker that drains PostgreSQL rows (an outbox, an inbox, deliveries): run
 * a pass; when it says more may be waiting, run the next at once, else wait `pollMs` or
 * until woken. A pass that throws is logged once per outage, not once per try (one warning
 * when passes start failing, one line when they work again), and the rows stay for later.
 * stop() lets the pass in hand finish.
 */
export class PollingLoop {
  private stopping = false;
  private loop?: Promise<void>;
  private wakeUp?: () => void;
  private woken = false;

  /** `pass` answers whether to go on at once (it found a full batch, or work is in hand). */
  constructor(
    private readonly pass: () => Promise<boolean>,
    private readonly opts: PollingLoopOptions,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  /** Ends the current wait: there is work now (e.g. written by this process). */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  /** Takes no new pass; resolves when the pass in hand has finished. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wakeUp?.();
    await this.loop;
  }

  get stopped(): boolean {
    return this.stopping;
  }

  private async run(): Promise<void> {
    let failing = false;
    while (!this.stopping) {
      let more = false;
      try {
        this.woken = false;
        more = await this.pass();
        if (failing) this.opts.log.log(`${this.opts.what} again`);
        failing = false;
      } catch (err) {
        if (!failing) this.opts.log.warn(`${this.opts.what} failed, the work stays for the next pass: ${err instanceof Error ? err.message : String(err)}`);
        failing = true;
      }
      if (!more && !this.woken && !this.stopping) await this.pause(this.opts.pollMs());
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
  }
}
