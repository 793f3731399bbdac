import { watchRedis } from './store-errors';
import Redis from 'ioredis';

/** The time source every use case asks; tests replace it. */
export abstract class Clock {
  abstract now(): Date;
}

export class SystemClock extends Clock {
  now(): Date {
    return new Date();
  }
}

/**
 * Tests only (CLOCK_CONTROL_KEY): the system clock moved by an offset in milliseconds
 * that a test sets in Redis. The test writes the offset to the key and publishes it on
 * the channel of the same name; each process applies it and records what it applied in
 * the hash `<key>:seen` under its instance id, so the test knows every process has it.
 */
export class ControlledClock extends Clock {
  private offsetMs = 0;

  private constructor(
    private readonly cmd: Redis,
    private readonly sub: Redis,
  ) {
    super();
  }

  static async start(redisUrl: string, key: string, instance: string): Promise<ControlledClock> {
    const cmd = watchRedis(new Redis(redisUrl, { maxRetriesPerRequest: null }), 'test clock');
    const sub = watchRedis(cmd.duplicate(), 'test clock updates');
    const clock = new ControlledClock(cmd, sub);
    const apply = async (raw: string | null) => {
      const offset = Number(raw ?? 0);
      if (!Number.isFinite(offset)) return;
      clock.offsetMs = offset;
      await cmd.hset(`${key}:seen`, instance, String(offset));
    };
    sub.on('message', (_channel: string, raw: string) => void apply(raw).catch(() => undefined));
    await sub.subscribe(key);
    await apply(await cmd.get(key));
    return clock;
  }

  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }

  /** Nest calls this when the module stops: the clock's Redis connections go with it. */
  onModuleDestroy(): void {
    this.sub.disconnect();
    this.cmd.disconnect();
  }
}

/** The Clock of a service: the system clock, or, when CLOCK_CONTROL_KEY is set (tests), one a test can move. */
export const clockProvider = (cfg: { redisUrl: string; clockControlKey: string | undefined }, instance: string) => ({
  provide: Clock,
  useFactory: async (): Promise<Clock> => (cfg.clockControlKey ? ControlledClock.start(cfg.redisUrl, cfg.clockControlKey, instance) : new SystemClock()),
});
