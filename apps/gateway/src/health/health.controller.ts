import { Controller, Get, Inject, OnModuleDestroy, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { FastifyReply } from 'fastify';
import { DataSource } from 'typeorm';
import Redis from 'ioredis';
import { CardPattern, DashboardPattern, ErrorCode, PingReply, PointsPattern, Service, ServiceName, WebhookPattern } from '@app/domain';
import { AppConfig, CONFIG, InstanceInfo, liveInstances, RedisStreamsClient, upWithin, watchRedis } from '@app/platform';
import { lastValueFrom } from 'rxjs';
import { Public } from '../auth/auth.decorators';

const PING_TIMEOUT_MS = 1_500;
const PINGS: Array<[ServiceName, string]> = [
  [Service.CARD, CardPattern.PING],
  [Service.POINTS, PointsPattern.PING],
  [Service.DASHBOARD, DashboardPattern.PING],
  [Service.WEBHOOK, WebhookPattern.PING],
];

type Up = 'up' | 'down';

const instance = { instance: 'host-1:4242:a1b2c3', pid: 4242, role: 'both', started_at: '2026-11-26T08:00:00.000Z', last_seen: 1795680000000, processed: 1234 };
const HEALTH_EXAMPLE = {
  code: 0,
  msg: 'ok',
  data: {
    status: 'up',
    postgres: 'up',
    redis: 'up',
    services: {
      card: { status: 'up', database: 'up', instances: [instance] },
      points: { status: 'up', database: 'up', instances: [{ ...instance, pid: 4243 }] },
      dashboard: { status: 'up', database: 'up', instances: [{ ...instance, pid: 4244 }] },
      webhook: { status: 'up', database: 'up', instances: [{ ...instance, pid: 4245 }] },
    },
  },
};

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
    this.redis = watchRedis(new Redis(cfg.redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true }), 'health check');
    this.clients = new Map(PINGS.map(([s]) => [s, new RedisStreamsClient({ service: s, redisUrl: cfg.redisUrl, timeoutMs: PING_TIMEOUT_MS })]));
  }

  async onModuleDestroy(): Promise<void> {
    this.redis.disconnect();
    await Promise.all([...this.clients.values()].map((c) => c.close()));
  }

  @Get('live')
  @Public()
  @ApiOperation({ summary: 'Liveness: the gateway process runs and answers HTTP (nothing else is checked)' })
  @ApiOkResponse({ schema: { example: { code: 0, msg: 'ok', data: { status: 'up' } } } })
  live() {
    return { code: 0, msg: 'ok', data: { status: 'up' } };
  }

  @Get('ready')
  @Public()
  @ApiOperation({
    summary:
      'Readiness: the gateway can serve, i.e. its own stores answer (PostgreSQL for keys, Redis for the transport); 503 when not. ' +
      'The services behind it are not checked: a dead card-service must not take the points routes out of rotation (see /health for them).',
  })
  @ApiOkResponse({ schema: { example: { code: 0, msg: 'ok', data: { status: 'up', postgres: 'up', redis: 'up' } } } })
  @ApiServiceUnavailableResponse({
    schema: { example: { code: ErrorCode.SERVICE_UNAVAILABLE, msg: 'not ready', data: { status: 'down', postgres: 'down', redis: 'up' } } },
  })
  async ready(@Res({ passthrough: true }) reply: FastifyReply) {
    const [postgres, redis] = await Promise.all([upWithin(() => this.db.query('SELECT 1')), upWithin(() => this.redis.ping())]);
    const up = postgres === 'up' && redis === 'up';
    reply.status(up ? 200 : 503);
    return { code: up ? 0 : ErrorCode.SERVICE_UNAVAILABLE, msg: up ? 'ok' : 'not ready', data: { status: up ? 'up' : 'down', postgres, redis } };
  }

  @Get()
  @Public()
  @ApiOperation({ summary: 'PostgreSQL, Redis and each service with its live instances; 503 when anything is down' })
  @ApiOkResponse({ schema: { example: HEALTH_EXAMPLE } })
  @ApiServiceUnavailableResponse({
    schema: {
      example: {
        code: ErrorCode.SERVICE_UNAVAILABLE,
        msg: 'degraded',
        data: {
          ...HEALTH_EXAMPLE.data,
          status: 'degraded',
          services: { ...HEALTH_EXAMPLE.data.services, card: { status: 'down', error: 'card service unavailable: no answer within 1500 ms', instances: [] } },
        },
      },
    },
  })
  async health(@Res({ passthrough: true }) reply: FastifyReply) {
    const [postgres, redis] = await Promise.all([
      this.db.query('SELECT 1').then(
        () => 'up',
        () => 'down',
      ),
      this.redis.ping().then(
        () => 'up',
        () => 'down',
      ),
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
      const answer = await lastValueFrom(this.clients.get(service)!.send<{ data: PingReply }>(pattern, {}));
      const database = answer.data.database;
      return { status: database === 'up' ? 'up' : 'down', database, instances };
    } catch (err) {
      return { status: 'down', error: (err as { msg?: string }).msg ?? 'no answer', instances };
    }
  }
}
