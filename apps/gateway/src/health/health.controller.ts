import { Controller, Get, Inject, OnModuleDestroy, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { FastifyReply } from 'fastify';
import { DataSource } from 'typeorm';
import Redis from 'ioredis';
import { CardPattern, DashboardPattern, ErrorCode, PingReply, PointsPattern, Service, ServiceName } from '@app/domain';
import { AppConfig, CONFIG, InstanceInfo, liveInstances, RedisStreamsClient } from '@app/platform';
import { lastValueFrom } from 'rxjs';
import { Public } from '../auth/auth.decorators';

const PING_TIMEOUT_MS = 1_500;
const PINGS: Array<[ServiceName, string]> = [
  [Service.CARD, CardPattern.PING],
  [Service.POINTS, PointsPattern.PING],
  [Service.DASHBOARD, DashboardPattern.PING],
];

type Up = 'up' | 'down';

interface ServiceHealth {
  status: Up;
  database?: Up;
  error?: string;
  instances: InstanceInfo[];
}

@ApiTags('health')
@Controller('health')
export class HealthController implements OnModuleDestroy {
  private readonly redis: Redis;
  /** Own clients with a short deadline, so a dead service makes /health answer fast. */
  private readonly clients: Map<ServiceName, RedisStreamsClient>;

  constructor(
    private readonly db: DataSource,
    @Inject(CONFIG) cfg: AppConfig,
  ) {
    this.redis = new Redis(cfg.redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
    this.clients = new Map(
      PINGS.map(([s]) => [s, new RedisStreamsClient({ service: s, redisUrl: cfg.redisUrl, timeoutMs: PING_TIMEOUT_MS })]),
    );
  }

  async onModuleDestroy(): Promise<void> {
    this.redis.disconnect();
    await Promise.all([...this.clients.values()].map((c) => c.close()));
  }

  @Get()
  @Public()
  @ApiOperation({ summary: 'PostgreSQL, Redis and each service with its live instances; 503 when anything is down' })
  async health(@Res({ passthrough: true }) reply: FastifyReply) {
    const [postgres, redis] = await Promise.all([
      this.db.query('SELECT 1').then(() => 'up' as Up, () => 'down' as Up),
      this.redis.ping().then(() => 'up' as Up, () => 'down' as Up),
    ]);
    const services: Record<string, ServiceHealth> = {};
    await Promise.all(PINGS.map(async ([service, pattern]) => (services[service] = await this.service(service, pattern))));
    const allUp = postgres === 'up' && redis === 'up' && Object.values(services).every((s) => s.status === 'up');
    reply.status(allUp ? 200 : 503);
    return {
      code: allUp ? 0 : ErrorCode.SERVICE_UNAVAILABLE,
      msg: allUp ? 'ok' : 'degraded',
      data: { status: allUp ? 'up' : 'degraded', postgres, redis, services },
    };
  }

  private async service(service: ServiceName, pattern: string): Promise<ServiceHealth> {
    const instances = await liveInstances(this.redis, service).catch(() => []);
    try {
      const answer = (await lastValueFrom(this.clients.get(service)!.send(pattern, {}))) as { data: PingReply };
      const database = answer.data.database;
      return { status: database === 'up' ? 'up' : 'down', database, instances };
    } catch (err) {
      return { status: 'down', error: (err as { msg?: string }).msg ?? 'no answer', instances };
    }
  }
}
