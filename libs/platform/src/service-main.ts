import { DynamicModule, INestApplicationContext } from '@nestjs/common';
import { ModulesContainer, NestFactory } from '@nestjs/core';
import { RpcException } from '@nestjs/microservices';
import { getQueueToken } from '@nestjs/bull';
import { DataSource, MigrationInterface } from 'typeorm';
import Redis from 'ioredis';
import type { Queue as BullQueue } from 'bull';
import { Queue, ServiceName } from '@app/domain';
import { AppConfig, loadConfig } from './config';
import { ContractPipe } from './contract.pipe';
import { dataSourceOptions, migrateSchema } from './database';
import { instanceId, InstanceRegistry } from './instance';
import { createLogger } from './logger';
import { RedisStreamsServer } from './transport/redis-streams.server';
import { ServiceExceptionFilter } from './service-exception.filter';
import { watchRedis } from './store-errors';
import { startMetrics, trackPool, trackQueue } from './observability/metrics';
import { OpsServer, upWithin } from './observability/ops-server';

export interface ServiceDefinition {
  service: ServiceName;
  schema: string;
  migrations: Array<new () => MigrationInterface>;
  /** The root module for this process's role (api, worker or both). */
  module: (cfg: AppConfig) => DynamicModule;
}

/**
 * Starts one service process: migrates its schema, then, by role, answers requests over
 * the transport (api), runs its queue workers (worker), or both.
 */
export async function runService(def: ServiceDefinition, cfg: AppConfig = loadConfig()): Promise<INestApplicationContext> {
  const name = `${def.service}-service`;
  const logger = createLogger(cfg, name);

  const ds = new DataSource(dataSourceOptions(cfg, def.schema, def.migrations, `${name}-migrate`));
  await ds.initialize();
  const ran = await migrateSchema(ds, def.schema).finally(() => ds.destroy());
  if (ran.length) logger.log(`migrated schema ${def.schema}: ${ran.join(', ')}`);

  const redis = watchRedis(new Redis(cfg.redisUrl, { maxRetriesPerRequest: null }), 'instance registry', logger);
  const registry = new InstanceRegistry(redis, def.service, cfg.role);
  let app: INestApplicationContext;
  if (cfg.role === 'worker') {
    app = await NestFactory.createApplicationContext(def.module(cfg), { logger });
  } else {
    const micro = await NestFactory.createMicroservice(def.module(cfg), {
      logger,
      strategy: new RedisStreamsServer({
        service: def.service,
        redisUrl: cfg.redisUrl,
        consumer: instanceId,
        concurrency: cfg.rpcConcurrency,
        claimIdleMs: cfg.rpcClaimIdleMs,
        drainTimeoutMs: cfg.drainTimeoutMs,
        onProcessed: () => registry.countProcessed(),
      }),
    });
    micro.useGlobalPipes(new ContractPipe((envelope) => new RpcException(envelope)));
    micro.useGlobalFilters(new ServiceExceptionFilter());
    await micro.listen();
    app = micro;
  }
  registry.start();
  const ops = await observe(app, name, cfg, redis);

  // Drain: the transport stops reading and answers what it took, the outbox relay ends its
  // pass, Bull queues let their active jobs finish (app.close); all bounded by DRAIN_TIMEOUT_MS.
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    ops?.markStopping();
    logger.log(`${signal}: finishing work in hand (at most ${cfg.drainTimeoutMs} ms), then stopping`);
    await Promise.race([registry.stop(), new Promise((r) => setTimeout(r, 1_000))]); // Redis may be gone
    const closed = await Promise.race([
      app.close().then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), cfg.drainTimeoutMs + 2_000).unref()),
    ]);
    if (!closed) logger.warn(`work still in hand after ${cfg.drainTimeoutMs} ms: stopping anyway (another instance takes it over)`);
    await ops?.close();
    redis.disconnect();
    logger.log('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  logger.log(`ready: role ${cfg.role}, instance ${instanceId}`);
  return app;
}

/**
 * Metrics of this process (its Bull queues, its PostgreSQL pool, the transport) and, when
 * METRICS_PORT is set, the port that serves them with the liveness and readiness probes.
 * Ready means its own stores answer: PostgreSQL and Redis.
 */
async function observe(app: INestApplicationContext, name: string, cfg: AppConfig, redis: Redis): Promise<OpsServer | undefined> {
  startMetrics(name);
  const db = app.get(DataSource, { strict: false });
  trackPool(name, db);
  // Only the queues this process registered: a failed app.get would end the process (Nest's exceptions zone).
  const tokens = new Set([...app.get(ModulesContainer).values()].flatMap((m) => [...m.providers.keys()]));
  for (const queue of Object.values(Queue)) {
    const token = getQueueToken(queue);
    if (tokens.has(token)) trackQueue(app.get<BullQueue>(token, { strict: false }));
  }
  if (cfg.metricsPort === undefined) return undefined;
  const ops = new OpsServer(cfg.metricsPort, async () => {
    const [postgres, redisUp] = await Promise.all([upWithin(() => db.query('SELECT 1')), upWithin(() => redis.ping())]);
    return { postgres, redis: redisUp };
  });
  await ops.start();
  return ops;
}
