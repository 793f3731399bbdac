import { Logger } from '@nestjs/common';
import { FastifyInstance, FastifyRequest } from 'fastify';
import { acceptRequestId, httpDuration, REQUEST_ID_HEADER, withRequestId } from '@app/platform';
import { CALLER, CallerTag, KEY_CRM_ID } from '../auth/auth.decorators';

/** Fastify's option: every request's id is the caller's x-request-id when sensible, else a new UUID. */
export const genReqId = (req: { headers: Record<string, string | string[] | undefined> }): string => acceptRequestId(req.headers[REQUEST_ID_HEADER]);

/**
 * Per HTTP request: the `x-request-id` header on the answer, the id in every log line
 * written while it is handled (and, through the transport packet, in the services'), the
 * latency histogram by route template and status, and one access log line (method, route,
 * status, ms, crm_id, key fingerprint — never the key).
 */
export function observeHttp(fastify: FastifyInstance, accessLog: boolean): void {
  const log = new Logger('Access');
  fastify.addHook('onRequest', (req, reply, done) => {
    void reply.header(REQUEST_ID_HEADER, req.id);
    withRequestId(req.id, done);
  });
  fastify.addHook('onResponse', (req, reply, done) => {
    const route = routeOf(req);
    const status = reply.statusCode;
    httpDuration.observe({ method: req.method, route, status }, reply.elapsedTime / 1000);
    if (accessLog) {
      const who = (req as unknown as Record<symbol, CallerTag | undefined>)[CALLER];
      const crmId =
        who?.crm_id ?? (req.params as { crm_id?: string } | undefined)?.crm_id ?? (req as unknown as Record<symbol, string | undefined>)[KEY_CRM_ID];
      withRequestId(req.id, () =>
        log.log(`${req.method} ${route} ${status} ${reply.elapsedTime.toFixed(1)}ms crm_id=${crmId ?? '-'} key=${who?.key_id ?? '-'}`),
      );
    }
    done();
  });
}

/** The route template (`/api/crm/card/:crm_id/create`), so that ids in paths do not make a series each. */
export function routeOf(req: FastifyRequest): string {
  return req.routeOptions.url ?? 'unmatched';
}
