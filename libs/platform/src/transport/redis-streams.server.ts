import { CustomTransportStrategy, Server } from '@nestjs/microservices';
import { Logger } from '@nestjs/common';
import Redis from 'ioredis';
import { lastValueFrom } from 'rxjs';
import { ErrorCode, fail, isEnvelope } from '@app/domain';
import { isStoreUnavailable, storeUnavailable, watchRedis } from '../store-errors';
import { groupName, PACKET_FIELD, ReplyPacket, RequestPacket, streamKey } from './protocol';
import { StreamContext } from './request-context';
import { rpcServerDeadlineDrops, rpcServerDuration, rpcServerInFlight, rpcServerTakeovers } from '../observability/metrics';
import { withRequestId } from '../observability/request-id';

export interface RedisStreamsServerOptions {
  service: string;
  redisUrl: string;
  /** Unique name of this instance in the consumer group. */
  consumer: string;
  /** Requests worked on at once. */
  concurrency: number;
  /** Pending requests idle this long (their holder stopped heart-beating) are taken over. */
  claimIdleMs: number;
  /** On close, requests in hand are finished for at most this long (default 15 s). */
  drainTimeoutMs?: number;
  /** Called after each request this instance answered. */
  onProcessed?: () => void;
}

/** How long one read waits for requests: also how long a drain waits for the read under way. */
const READ_BLOCK_MS = 1_000;
const DEFAULT_DRAIN_MS = 15_000;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

type StreamEntry = [id: string, fields: string[] | null];

/** A consumer idle this long with nothing pending belongs to an instance that is gone. */
const GONE_CONSUMER_IDLE_MS = 10 * 60_000;

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
      // Commands issued in the same tick (heartbeats, claims of requests) leave in one write;
      // a request's reply and acknowledgement go together in one MULTI (one round trip).
      this.cmd = watchRedis(new Redis(this.opts.redisUrl, { maxRetriesPerRequest: null, enableAutoPipelining: true }), `${this.stream} commands`, this.log);
      this.reader = watchRedis(new Redis(this.opts.redisUrl, { maxRetriesPerRequest: null }), `${this.stream} reader`, this.log);
      await this.ensureGroup();
      const beat = Math.max(100, Math.floor(this.opts.claimIdleMs / 3));
      this.timers.push(setInterval(() => void this.heartbeat(), beat));
      this.timers.push(setInterval(() => void this.reclaim(), this.opts.claimIdleMs));
      this.loopDone = this.readLoop();
      callback();
    } catch (err) {
      callback(err);
    }
  }

  /**
   * Drains: stops taking requests (the read under way ends within its BLOCK time, and what it
   * brought is worked on too), finishes those in hand while still heart-beating them, for up
   * to drainTimeoutMs, then disconnects. Requests this instance never read stay in the stream
   * for the other replicas; whatever is still unanswered stays pending and is taken over.
   */
  async close(): Promise<void> {
    this.closing = true;
    const until = Date.now() + (this.opts.drainTimeoutMs ?? DEFAULT_DRAIN_MS);
    this.slotWaiters.splice(0).forEach((wake) => wake());
    await Promise.race([this.loopDone?.catch(() => undefined), sleep(READ_BLOCK_MS + 500)]); // Redis may be gone
    this.reader?.disconnect();
    while (this.inFlight.size && Date.now() < until) await sleep(20);
    this.timers.forEach(clearInterval);
    if (this.inFlight.size) this.log.warn(`stopping with ${this.inFlight.size} request(s) unanswered: another instance takes them over`);
    await Promise.race([this.cmd?.quit().catch(() => undefined), sleep(1_000)]);
    this.cmd?.disconnect();
  }

  /**
   * Creates the consumer group (and the stream) unless it exists. Also after the group was
   * lost (Redis restarted without persistence, the key was flushed): the next request
   * recreates the stream without it, and nothing would be read again.
   */
  private async ensureGroup(): Promise<void> {
    await this.cmd!.xgroup('CREATE', this.stream, this.group, '0', 'MKSTREAM').catch((e: Error) => {
      if (!String(e.message).includes('BUSYGROUP')) throw e;
    });
  }

  /** After a failed command: recreate a lost group; true when that was the trouble. */
  private async recoverGroup(err: unknown): Promise<boolean> {
    if (!String((err as Error)?.message).includes('NOGROUP')) return false;
    this.log.warn(`consumer group ${this.group} of ${this.stream} was gone: creating it again`);
    await this.ensureGroup().catch((e: Error) => this.log.warn(`creating ${this.group} failed: ${e.message}`));
    return true;
  }

  private async readLoop(): Promise<void> {
    while (!this.closing) {
      try {
        await this.freeSlot();
        if (this.closing) return;
        const free = this.opts.concurrency - this.inFlight.size;
        const res = (await this.reader!.xreadgroup(
          'GROUP',
          this.group,
          this.opts.consumer,
          'COUNT',
          free,
          'BLOCK',
          READ_BLOCK_MS,
          'STREAMS',
          this.stream,
          '>',
        )) as Array<[string, StreamEntry[]]> | null;
        for (const [, entries] of res ?? []) for (const entry of entries) this.take(entry);
      } catch (err) {
        if (this.closing) return;
        if (await this.recoverGroup(err)) continue;
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
      .catch(async (e: Error) => (await this.recoverGroup(e)) || this.log.warn(`heartbeat failed: ${e.message}`));
  }

  /** Takes over requests left pending by an instance that stopped. */
  private async reclaim(): Promise<void> {
    if (this.closing || !this.cmd) return;
    try {
      let cursor = '0-0';
      do {
        const free = this.opts.concurrency - this.inFlight.size;
        if (free <= 0) return;
        const [next, entries] = (await this.cmd.xautoclaim(this.stream, this.group, this.opts.consumer, this.opts.claimIdleMs, cursor, 'COUNT', free)) as [
          string,
          StreamEntry[],
          string[],
        ];
        for (const entry of entries) {
          this.log.warn(`took over request ${entry[0]} left by a stopped instance`);
          rpcServerTakeovers.inc({ service: this.opts.service });
          this.take(entry);
        }
        cursor = next;
      } while (cursor !== '0-0');
      await this.forgetGoneConsumers();
    } catch (err) {
      if (!(await this.recoverGroup(err))) this.log.warn(`reclaim failed: ${(err as Error).message}`);
    }
  }

  /** Consumers of stopped instances stay in the group; drop those idle long with nothing pending. */
  private async forgetGoneConsumers(): Promise<void> {
    const consumers = (await this.cmd!.xinfo('CONSUMERS', this.stream, this.group)) as Array<Array<string | number>>;
    for (const fields of consumers) {
      const info: Record<string, string | number> = {};
      for (let i = 0; i < fields.length; i += 2) info[String(fields[i])] = fields[i + 1];
      if (info.name !== this.opts.consumer && Number(info.pending) === 0 && Number(info.idle) > GONE_CONSUMER_IDLE_MS) {
        await this.cmd!.xgroup('DELCONSUMER', this.stream, this.group, String(info.name));
      }
    }
  }

  private take([entryId, fields]: StreamEntry): void {
    if (this.inFlight.has(entryId)) return;
    this.inFlight.add(entryId);
    rpcServerInFlight.inc({ service: this.opts.service });
    void this.process(entryId, fields)
      // Not acknowledged: the entry stays pending and is taken over (the handlers are idempotent).
      .catch((err: Error) => this.log.warn(`request ${entryId} not acknowledged: ${err.message}`))
      .finally(() => {
        this.inFlight.delete(entryId);
        rpcServerInFlight.dec({ service: this.opts.service });
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
    const done = this.cmd!.multi();
    if (packet && Date.now() > packet.deadline) rpcServerDeadlineDrops.inc({ service: this.opts.service });
    if (packet && Date.now() <= packet.deadline) {
      const took = rpcServerDuration.startTimer({ service: this.opts.service });
      const p = packet;
      const reply = await withRequestId(p.rid, async () => {
        const answer = await this.handle(p);
        this.log.debug(`${p.pattern} answered in ${(took() * 1000).toFixed(1)} ms`);
        return answer;
      });
      // The reply goes out before the acknowledgement, in the same transaction.
      if (packet.reply && reply) done.publish(packet.reply, JSON.stringify(reply));
      this.opts.onProcessed?.();
    }
    await done.xack(this.stream, this.group, entryId).xdel(this.stream, entryId).exec();
  }

  private async handle(packet: RequestPacket): Promise<ReplyPacket | null> {
    if (!packet.reply) return null; // not sent by our client: nobody waits for it
    const handler = this.getHandlerByPattern(packet.pattern);
    if (!handler) return { id: packet.id, response: fail(ErrorCode.ROUTE_NOT_FOUND, `no handler for ${packet.pattern}`) };
    try {
      const response = await lastValueFrom(this.transformToObservable(await handler(packet.data, new StreamContext([packet.deadline]))), {
        defaultValue: undefined,
      });
      return { id: packet.id, response };
    } catch (err) {
      // An envelope thrown by a pipe (e.g. validation) is an answer, not a failure.
      if (isEnvelope(err)) return { id: packet.id, response: err };
      if (isStoreUnavailable(err)) return { id: packet.id, response: storeUnavailable() };
      return { id: packet.id, err: serializeError(err) };
    }
  }
}

function serializeError(err: unknown): unknown {
  if (err instanceof Error) return { message: err.message };
  return err;
}
