import { ClientProxy, ReadPacket, WritePacket } from '@nestjs/microservices';
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { Logger } from '@nestjs/common';
import { ErrorCode } from '@app/domain';
import { isStoreUnavailable, watchRedis } from '../store-errors';
import { PACKET_FIELD, ReplyPacket, replyChannel, RequestPacket, streamKey } from './protocol';
import { rpcClientDuration, rpcClientShed, trackPending } from '../observability/metrics';
import { currentRequestId } from '../observability/request-id';

export interface RedisStreamsClientOptions {
  service: string;
  redisUrl: string;
  /** Deadline of each request; past it the caller gets SERVICE_UNAVAILABLE. */
  timeoutMs: number;
  /**
   * Requests of this client waiting for an answer, at most: one more is refused at once
   * (SERVICE_UNAVAILABLE) instead of queueing behind them, so an overload is shed in
   * microseconds rather than answered at the deadline, and memory stays bounded.
   */
  maxPending?: number;
}

/** Requests older than this (and past their deadline) are trimmed from the stream. */
const STREAM_KEEP_MS = 5 * 60_000;

/** The caller side of {@link RedisStreamsServer}: `send` adds a request to the service's stream and waits for the reply. */
export class RedisStreamsClient extends ClientProxy {
  private readonly clientId = randomUUID();
  private pub?: Redis;
  private sub?: Redis;
  private connecting?: Promise<void>;
  private readonly pending = new Map<string, (packet: WritePacket) => void>();
  private readonly untrack: () => void;

  constructor(private readonly opts: RedisStreamsClientOptions) {
    super();
    this.untrack = trackPending(opts.service, () => this.pending.size);
  }

  connect(): Promise<void> {
    if (!this.connecting) {
      this.connecting = (async () => {
        // Reconnect once connected; a first connection that fails ends (no retry loop left behind).
        let connected = false;
        const options = { lazyConnect: true, maxRetriesPerRequest: 2, retryStrategy: (times: number) => (connected ? Math.min(times * 50, 2_000) : null) };
        // Requests sent in one tick leave in one write.
        const log = new Logger(`${this.opts.service} client`);
        this.pub = watchRedis(new Redis(this.opts.redisUrl, { ...options, enableAutoPipelining: true }), 'requests', log);
        this.sub = watchRedis(new Redis(this.opts.redisUrl, options), 'replies', log);
        this.sub.on('message', (_channel: string, message: string) => this.onReply(message));
        await Promise.all([this.pub.connect(), this.sub.connect()]);
        connected = true;
        await this.sub.subscribe(replyChannel(this.clientId));
      })().catch((err: Error) => {
        // Drop both connections: the next request tries afresh instead of piling up clients.
        this.pub?.disconnect();
        this.sub?.disconnect();
        this.connecting = undefined;
        // An envelope, not an Error: it is the answer the caller passes on (ServiceClient, PointsClient).
        // eslint-disable-next-line @typescript-eslint/only-throw-error
        throw storeDown(this.opts.service, err);
      });
    }
    return this.connecting;
  }

  async close(): Promise<void> {
    this.untrack();
    for (const [id, callback] of this.pending) {
      this.pending.delete(id);
      callback({ err: unavailable(this.opts.service, 'the caller is shutting down') });
    }
    this.sub?.disconnect();
    this.pub?.disconnect();
    this.connecting = undefined;
  }

  unwrap<T>(): T {
    return this.pub as T;
  }

  protected publish(packet: ReadPacket, callback: (packet: WritePacket) => void): () => void {
    const max = this.opts.maxPending ?? Infinity;
    if (this.pending.size >= max) {
      rpcClientShed.inc({ service: this.opts.service });
      callback({ err: unavailable(this.opts.service, `busy: ${max} requests are waiting for it already`) });
      return () => undefined;
    }
    const id = randomUUID();
    const request: RequestPacket = {
      id,
      pattern: this.normalizePattern(packet.pattern),
      data: packet.data,
      reply: replyChannel(this.clientId),
      deadline: Date.now() + this.opts.timeoutMs,
      rid: currentRequestId(),
    };
    const took = rpcClientDuration.startTimer({ service: this.opts.service });
    const timer = setTimeout(() => {
      if (this.pending.delete(id)) {
        took({ outcome: 'timeout' });
        callback({ err: unavailable(this.opts.service, `no answer within ${this.opts.timeoutMs} ms`) });
      }
    }, this.opts.timeoutMs);
    this.pending.set(id, (reply) => {
      clearTimeout(timer);
      took({ outcome: reply.err === undefined ? 'answered' : 'failed' });
      callback(reply);
    });
    // Entries far past any deadline are worth nothing: trimming them keeps the stream of a
    // service that is down from growing without end.
    const horizon = Date.now() - Math.max(this.opts.timeoutMs, STREAM_KEEP_MS);
    this.pub!.xadd(streamKey(this.opts.service), 'MINID', '~', horizon, '*', PACKET_FIELD, JSON.stringify(request)).catch((err: Error) => {
      const done = this.pending.get(id);
      if (done && this.pending.delete(id))
        done({ err: isStoreUnavailable(err) ? storeDown(this.opts.service, err) : unavailable(this.opts.service, err.message) });
    });
    return () => {
      clearTimeout(timer);
      this.pending.delete(id);
    };
  }

  /** Events are not carried: what must happen goes through `send` (answered) or a Bull queue (durable). */
  protected async dispatchEvent<T = unknown>(packet: ReadPacket): Promise<T> {
    throw new Error(`emit(${String(packet.pattern)}) is not supported over this transport: use send, or a Bull queue`);
  }

  private onReply(message: string): void {
    let reply: ReplyPacket;
    try {
      reply = JSON.parse(message) as ReplyPacket;
    } catch {
      return;
    }
    const callback = this.pending.get(reply.id);
    if (!callback) return; // already timed out
    this.pending.delete(reply.id);
    callback(reply.err !== undefined ? { err: reply.err } : { response: reply.response, isDisposed: true });
  }
}

function unavailable(service: string, why: string) {
  return { code: ErrorCode.SERVICE_UNAVAILABLE, msg: `${service} service unavailable: ${why}` };
}

/** Redis, which carries the request, cannot be reached: a store outage (50302), not a service that did not answer. */
function storeDown(service: string, err: Error) {
  return { code: ErrorCode.STORE_UNAVAILABLE, msg: `store unavailable, retry (Redis, carrying requests to ${service}: ${err.message})` };
}
