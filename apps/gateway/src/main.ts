import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { DataSource } from 'typeorm';
import { ContractPipe, createLogger, dataSourceOptions, loadConfig, migrateSchema, OpsServer, startMetrics, trackPool, upWithin } from '@app/platform';
import { GATEWAY_MIGRATIONS, GATEWAY_SCHEMA, GatewayModule } from './app.module';
import { AuthService } from './auth/auth.service';
import { EnvelopeException } from './http/envelope.exception';
import { drainable } from './ops/drain';
import { genReqId, observeHttp } from './ops/http-observer';
import { registerQueueConsole } from './ops/queue-console';
import { registerRateLimit } from './ops/rate-limit';
import { registerConsole } from './console/console-static';

export const BODY_LIMIT_BYTES = 1024 * 1024;
/**
 * Connections the kernel queues until the gateway accepts them (Node's default is 511; the
 * kernel caps it at net.core.somaxconn). Beyond it a crowd's connections wait on SYN retries
 * (a hang of seconds); queued, they are read and, past HTTP_MAX_IN_FLIGHT, refused at once.
 */
const LISTEN_BACKLOG = 4096;

async function bootstrap() {
  const cfg = loadConfig();
  const logger = createLogger(cfg, 'gateway');

  const ds = new DataSource(dataSourceOptions(cfg, GATEWAY_SCHEMA, GATEWAY_MIGRATIONS, 'gateway-migrate'));
  await ds.initialize();
  await migrateSchema(ds, GATEWAY_SCHEMA).finally(() => ds.destroy());

  startMetrics('gateway');
  // return503OnClosing off: a request that reaches a closing server on a kept-alive connection
  // gets the drain's own refusal (503 50301, Connection: close, Retry-After), not Fastify's bare 503.
  const adapter = new FastifyAdapter({ bodyLimit: BODY_LIMIT_BYTES, genReqId, requestIdHeader: false, return503OnClosing: false });
  const app = await NestFactory.create<NestFastifyApplication>(GatewayModule.forConfig(cfg), adapter, { logger });
  app.useGlobalPipes(new ContractPipe((envelope) => new EnvelopeException(envelope)));

  // Request ids, latency metrics and the access log first, so that every answer has them; then limits, then the queue console.
  const fastify = app.getHttpAdapter().getInstance();
  observeHttp(fastify, cfg.accessLog);
  const http = drainable(fastify, logger, cfg.httpMaxInFlight);
  const auth = app.get(AuthService);
  const rateLimitRedis = await registerRateLimit(fastify, cfg, auth);
  const consoleQueues = await registerQueueConsole(fastify, cfg, auth);
  await registerConsole(fastify);
  const db = app.get(DataSource);
  trackPool('gateway', db);
  const ops =
    cfg.metricsPort === undefined
      ? undefined
      : new OpsServer(cfg.metricsPort, async () => ({
          postgres: await upWithin(() => db.query('SELECT 1')),
          redis: await upWithin(() => rateLimitRedis.ping()),
        }));
  fastify.addHook('onClose', async () => {
    ops?.markStopping();
    await Promise.all([...consoleQueues.map((q) => q.close()), ops?.close()]);
    rateLimitRedis.disconnect();
  });

  const doc = new DocumentBuilder()
    .setTitle('Loyalty suite API')
    .setDescription(
      'Coupons and points for WeChat mini-program merchants. Every answer is `{code, msg, data}`; ' +
        'errors carry a stable non-zero code and the matching HTTP status. Authorization: `Bearer <key>`.',
    )
    .setVersion('1')
    .addBearerAuth()
    .build();
  SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, doc), { jsonDocumentUrl: 'docs-json' });

  await app.listen({ port: cfg.port, host: cfg.host, backlog: LISTEN_BACKLOG });
  await ops?.start();
  const url = `http://127.0.0.1:${cfg.port}`;
  logger.log(`gateway listening on ${url} (API docs at ${url}/docs)`);

  // Drain: the HTTP requests in hand are answered first (their service clients are still
  // open), then the app closes (clients, pools, Redis); all bounded by DRAIN_TIMEOUT_MS.
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    ops?.markStopping();
    logger.log(`${signal}: answering the requests in hand (at most ${cfg.drainTimeoutMs} ms), then stopping`);
    if (!(await http.drain(cfg.drainTimeoutMs))) logger.warn(`requests still in hand after ${cfg.drainTimeoutMs} ms: stopping anyway`);
    await Promise.race([app.close(), new Promise((r) => setTimeout(r, 5_000).unref())]);
    logger.log('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

bootstrap().catch((err) => {
  console.error(`gateway failed to start: ${err instanceof Error ? err.message : err}`);
  process.exit(1);
});
