import { LoggerService } from '@nestjs/common';
import { FastifyInstance } from 'fastify';
import { ErrorCode, fail } from '@app/domain';
import { httpErrors } from '@app/platform';

/** What a request arriving on a kept-alive connection is answered while the gateway drains. */
export const DRAINING = fail(ErrorCode.SERVICE_UNAVAILABLE, 'gateway stopping, retry');
/** What a request is answered when HTTP_MAX_IN_FLIGHT requests are in hand already. */
export const BUSY = fail(ErrorCode.SERVICE_UNAVAILABLE, 'gateway busy, retry');

export interface Drain {
  /** Stops taking requests and waits (at most `timeoutMs`) until the ones in hand are answered; true when none is left. */
  drain(timeoutMs: number): Promise<boolean>;
}

/**
 * SIGTERM at the gateway, the HTTP half: from `drain()` on, the listener is closed (new
 * connections go to another gateway), a request that still arrives on a kept-alive
 * connection is answered 503 50301 with Retry-After and `Connection: close`, the answers
 * to the requests in hand carry `Connection: close` too, and idle connections are closed.
 * It resolves once every request in hand is answered. Register before listening.
 *
 * The same count bounds an overload: with `maxInFlight` requests in hand, another is answered
 * 503 50301 with Retry-After at once (cheap: before auth, parsing or the transport), so an
 * overload is refused fast instead of queueing in the gateway beyond the callers' deadlines.
 */
export function drainable(fastify: FastifyInstance, logger: LoggerService, maxInFlight = Infinity): Drain {
  let draining = false;
  let inHand = 0;
  let settled: (() => void) | undefined;

  fastify.addHook('onRequest', (req, reply, done) => {
    if (draining) {
      httpErrors.inc({ code: String(DRAINING.code) });
      void reply.code(503).header('connection', 'close').header('retry-after', '1').send(DRAINING);
      return;
    }
    if (inHand >= maxInFlight) {
      httpErrors.inc({ code: String(BUSY.code) });
      void reply.code(503).header('retry-after', '1').send(BUSY);
      return;
    }
    inHand++;
    // 'close' fires once the answer is out or the client went away, whichever the request ends with.
    reply.raw.once('close', () => {
      inHand--;
      if (draining && inHand === 0) settled?.();
    });
    done();
  });
  fastify.addHook('onSend', (_req, reply, payload, done) => {
    if (draining) void reply.header('connection', 'close');
    done(null, payload);
  });

  return {
    async drain(timeoutMs: number): Promise<boolean> {
      draining = true;
      const server = fastify.server;
      server.close(); // no new connections; the callback would wait for kept-alive ones
      server.closeIdleConnections();
      logger.log(`draining: ${inHand} request(s) in hand`);
      if (inHand > 0) {
        await new Promise<void>((resolve) => {
          settled = resolve;
          setTimeout(resolve, timeoutMs).unref();
        });
      }
      server.closeIdleConnections();
      return inHand === 0;
    },
  };
}
