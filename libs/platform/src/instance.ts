import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { Role } from './config';

export const instanceId = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;

const registryKey = (service: string) => `loyalty:instances:${service}`;
const BEAT_MS = 2_000;
const STALE_MS = 10_000;

export interface InstanceInfo {
  instance: string;
  pid: number;
  role: Role;
  started_at: string;
  last_seen: number;
  /** Requests over the transport this instance answered. */
  processed: number;
}

/** Each service instance says it is alive (and how much it did) so /health can list them. */
export class InstanceRegistry {
  private timer?: NodeJS.Timeout;
  private processed = 0;
  private readonly startedAt = new Date().toISOString();

  constructor(
    private readonly redis: Redis,
    private readonly service: string,
    private readonly role: Role,
  ) {}

  countProcessed(): void {
    this.processed++;
  }

  start(): void {
    void this.beat();
    this.timer = setInterval(() => void this.beat(), BEAT_MS);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.redis.hdel(registryKey(this.service), instanceId).catch(() => undefined);
  }

  private async beat(): Promise<void> {
    const info: InstanceInfo = {
      instance: instanceId,
      pid: process.pid,
      role: this.role,
      started_at: this.startedAt,
      last_seen: Date.now(),
      processed: this.processed,
    };
    await this.redis.hset(registryKey(this.service), instanceId, JSON.stringify(info)).catch(() => undefined);
  }
}

/** Live instances of a service (a stopped one drops out after a few seconds). */
export async function liveInstances(redis: Redis, service: string): Promise<InstanceInfo[]> {
  const all = await redis.hgetall(registryKey(service));
  const now = Date.now();
  const out: InstanceInfo[] = [];
  for (const [id, raw] of Object.entries(all)) {
    const info = JSON.parse(raw) as InstanceInfo;
    if (now - info.last_seen <= STALE_MS) out.push(info);
    else await redis.hdel(registryKey(service), id);
  }
  return out.sort((a, b) => a.started_at.localeCompare(b.started_at));
}
