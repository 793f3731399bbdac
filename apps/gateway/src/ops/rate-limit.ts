import rateLimit from '@fastify/rate-limit';
import { FastifyInstance, FastifyRequest } from 'fastify';
import Redis from 'ioredis';
import { ErrorCode, fail } from '@app/domain';
import { AppConfig, watchRedis } from '@app/platform';
import { AuthService, keyId } from '../auth/auth.service';
import { EnvelopeException } from '../http/envelope.exception';

const WINDOW_MS = 60_000;
/** Paths no key is needed for (probes, docs, the queue console's own gate, the ops console's static files): never counted. */
const UNCOUNTED = /^\/(health|docs|docs-json|metrics|admin\/queues|console)(\/|$|\?)/;

const bearer = (req: FastifyRequest): string | undefined => /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];

/**
 * Requests per minute per API key (`@fastify/rate-limit`), counted in Redis so every gateway
 * replica shares the count. The limit is the key's scope's (RATE_LIMIT_ADMIN_PER_MIN,
 * RATE_LIMIT_CLIENT_PER_MIN; 0 turns a scope's limit off); the root key has none; a request
 * without a known key is counted by its key's fingerprint (or address) at the client rate.
 * Every counted answer carries the RateLimit-Limit/-Remaining/-Reset headers; one over the
 * limit is 429 with code 42901 and Retry-After. When Redis cannot be reached the limit is
 * not applied (skipOnError): a Redis outage must not refuse traffic the stores can serve.
 */
export async function registerRateLimit(fastify: FastifyInstance, cfg: AppConfig, auth: AuthService): Promise<Redis> {
  const redis = watchRedis(new Redis(cfg.redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 2_000, enableOfflineQueue: false }), 'rate limits');
  const limitOf = async (req: FastifyRequest): Promise<number> => {
    const key = bearer(req);
    const caller = key ? await auth.identify(key).catch(() => null) : null;
    if (caller?.root) return 0;
    return caller?.scope === 'admin' ? cfg.rateLimitAdminPerMin : cfg.rateLimitClientPerMin;
  };
  await fastify.register(rateLimit, {
    global: true,
    hook: 'onRequest',
    timeWindow: WINDOW_MS,
    redis,
    nameSpace: 'loyalty:ratelimit:',
    skipOnError: true,
    enableDraftSpec: true,
    keyGenerator: (req) => {
      const key = bearer(req);
      return key ? `k:${keyId(key)}` : `ip:${req.ip}`;
    },
    allowList: async (req) => UNCOUNTED.test(req.url) || (await limitOf(req)) === 0,
    max: async (req) => limitOf(req),
    // Thrown by the plugin after it set the headers; the envelope filter writes it out as 429.
    errorResponseBuilder: (_req, ctx) =>
      new EnvelopeException(fail(ErrorCode.RATE_LIMITED, `rate limit: at most ${ctx.max} requests a minute with this key; retry in ${ctx.after}`)) as never,
  });
  return redis;
}
