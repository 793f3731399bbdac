import { CustomTransportStrategy, Server } from '@nestjs/microservices';
import { Logger } from '@nestjs/common';
import Redis from 'ioredis';
import { lastValueFrom } from 'rxjs';
import { isEnvelope } from '@app/domain';
import { groupName, PACKET_FIELD, ReplyPacket, RequestPacket, streamKey } from './protocol';

export interface RedisStreamsServerOptions {
  service: string;
  redisUrl: string;
  /** Unique name of this instance in the consumer group. */
  consumer: string;
  /** Requests worked on at once. */
  concurrency: number;
  /** Pending requests idle this long (their holder stopped heart-beating) are taken over. */
  claimIdleMs: number;
  /** Called after each request this instance answered. */
  onProcessed?: () => void;
}

type StreamEntry = [id: string, fields: string[] | null];

/**
 * Nest transport strategy over Redis streams with a consumer group:
 * - replicas of a service share the group, so each request is delivered to one of them;
 * - a request stays pending until answered; this instance refreshes the idle time of
 *   what it holds, and every instance takes over entries idle longer than claimIdleMs,
 *   so the requests of an instance that died are done by another;
 * - a request whose deadline has passed is dropped unanswered: the caller has given up.
 */
export class RedisStreamsServer extends Server implements CustomTransportStrategy {
  private readonly log = new Logger(RedisStreamsServer.name);
  private cmd?: Redis;
  private reader?: Redis;
  private closing = false;
  private readonly inFlight = new Set<string>();
  private slotWaiters: Array<() => void> = [];
  private timers: NodeJS.Timeout[] = [];
  private loopDone?: Promise<void>;

  constructor(private readonly opts: RedisStreamsServerOptions) {
    super();
  }

  private get stream() {
    return streamKey(this.opts.service);
  }
  private get group() {
    return groupName(this.opts.service);
  }

  on(): void {
    /* connection events are logged by ioredis clients below */
  }

  unwrap<T>(): T {
    return this.cmd as T;
  }

  async listen(callback: (err?: unknown) => void): Promise<void> {
    try {
      this.cmd = new Redis(this.opts.redisUrl, { maxRetriesPerRequest: null });
      this.reader = this.cmd.duplicate();
      await this.cmd.xgroup('CREATE', this.stream, this.group, '0', 'MKSTREAM').catch((e: Error) => {
        if (!String(e.message).includes('BUSYGROUP')) throw e;
      });
      const beat = Math.max(100, Math.floor(this.opts.claimIdleMs / 3));
      this.timers.push(setInterval(() => void this.heartbeat(), beat));
      this.timers.push(setInterval(() => void this.reclaim(), this.opts.claimIdleMs));
      this.loopDone = this.readLoop();
      callback();
    } catch (err) {
      callback(err);
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    this.timers.forEach(clearInterval);
    const until = Date.now() + 5_000;
    while (this.inFlight.size && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    this.reader?.disconnect();
    await this.loopDone?.catch(() => undefined);
    await this.cmd?.quit().catch(() => undefined);
  }

  private async readLoop(): Promise<void> {
    while (!this.closing) {
      try {
        await this.freeSlot();
        const free = this.opts.concurrency - this.inFlight.size;
        const res = (await this.reader!.xreadgroup(
          'GROUP', this.group, this.opts.consumer,
          'COUNT', free, 'BLOCK', 1000,
          'STREAMS', this.stream, '>',
        )) as Array<[string, StreamEntry[]]> | null;
        for (const [, entries] of res ?? []) for (const entry of entries) this.take(entry);
      } catch (err) {
        if (this.closing) return;
        this.log.warn(`reading ${this.stream} failed: ${(err as Error).message}; retrying`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  private freeSlot(): Promise<void> {
    if (this.inFlight.size < this.opts.concurrency) return Promise.resolve();
    return new Promise((resolve) => this.slotWaiters.push(resolve));
  }

  /** Keeps what this instance works on from looking abandoned. */
  private async heartbeat(): Promise<void> {
    if (!this.inFlight.size || !this.cmd) return;
    await this.cmd
      .xclaim(this.stream, this.group, this.opts.consumer, 0, ...this.inFlight, 'JUSTID')
      .catch((e: Error) => this.log.warn(`heartbeat failed: ${e.message}`));
  }

  /** Takes over requests left pending by an instance that stopped. */
  private async reclaim(): Promise<void> {
    if (this.closing || !this.cmd) return;
    try {
      let cursor = '0-0';
      do {
        const free = this.opts.concurrency - this.inFlight.size;
        if (free <= 0) return;
        const [next, entries] = (await this.cmd.xautoclaim(
          this.stream, this.group, this.opts.consumer, this.opts.claimIdleMs, cursor, 'COUNT', free,
        )) as [string, StreamEntry[], string[]];
        for (const entry of entries) {
          this.log.warn(`took over request ${entry[0]} left by a stopped instance`);
          this.take(entry);
        }
        cursor = next;
      } while (cursor !== '0-0');
    } catch (err) {
      this.log.warn(`reclaim failed: ${(err as Error).message}`);
    }
  }

  private take([entryId, fields]: StreamEntry): void {
    if (this.inFlight.has(entryId)) return;
    this.inFlight.add(entryId);
    void this.process(entryId, fields).finally(() => {
      this.inFlight.delete(entryId);
      this.slotWaiters.shift()?.();
    });
  }

  private async process(entryId: string, fields: string[] | null): Promise<void> {
    let packet: RequestPacket | null = null;
    try {
      const raw = fields ? fields[fields.indexOf(PACKET_FIELD) + 1] : undefined;
      packet = raw ? (JSON.parse(raw) as RequestPacket) : null;
    } catch {
      this.log.error(`dropping unreadable entry ${entryId}`);
    }
    if (packet && Date.now() <= packet.deadline) {
      const reply = await this.handle(packet);
      if (packet.reply && reply) await this.cmd!.publish(packet.reply, JSON.stringify(reply));
      this.opts.onProcessed?.();
    }
    await this.cmd!.multi().xack(this.stream, this.group, entryId).xdel(this.stream, entryId).exec();
  }

  private async handle(packet: RequestPacket): Promise<ReplyPacket | null> {
    const handler = this.getHandlerByPattern(packet.pattern);
    if (!packet.reply) {
      if (handler) await this.handleEvent(packet.pattern, { pattern: packet.pattern, data: packet.data }, undefined as never);
      return null;
    }
    if (!handler) return { id: packet.id, err: { code: 40404, msg: `no handler for ${packet.pattern}` } };
    try {
      const response = await lastValueFrom(this.transformToObservable(await handler(packet.data)), { defaultValue: undefined });
      return { id: packet.id, response };
    } catch (err) {
      // An envelope thrown by a pipe (e.g. validation) is an answer, not a failure.
      if (isEnvelope(err)) return { id: packet.id, response: err };
      return { id: packet.id, err: serializeError(err) };
    }
  }
}

function serializeError(err: unknown): unknown {
  if (err instanceof Error) return { message: err.message };
  return err;
}
