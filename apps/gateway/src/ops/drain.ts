import { LoggerService } from '@nestjs/common';
import { FastifyInstance } from 'fastify';
import { ErrorCode, fail } from '@app/domain';

/** What a request arriving on a kept-alive connection is answered while the gateway drains. */
export const DRAINING = fail(ErrorCode.SERVICE_UNAVAILABLE, 'gateway stopping, retry');

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
 */
export function drainable(fastify: FastifyInstance, logger: LoggerService): Drain {
  let draining = false;
  let inHand = 0;
  let settled: (() => void) | undefined;

  fastify.addHook('onRequest', (req, reply, done) => {
    if (draining) {
      void reply.code(503).header('connection', 'close').header('retry-after', '1').send(DRAINING);
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
