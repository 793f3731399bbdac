import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { FastifyReply } from 'fastify';
import { Envelope, ErrorCode, fail } from '@app/domain';
import { isStoreUnavailable, OutageLog, storeUnavailable } from '@app/platform';
import { EnvelopeException } from './envelope.exception';
import { replyFor } from './envelope.interceptor';

/**
 * Turns any failure into the envelope: known ones with their code, a store outage (the
 * gateway's own PostgreSQL, e.g. looking a key up) as 503 50302, the rest as a 500 without internals.
 */
export function envelopeFor(err: unknown, log: Logger, outages?: OutageLog): Envelope<never> {
  if (err instanceof EnvelopeException) return err.envelope;
  if (isStoreUnavailable(err)) {
    outages?.record(err);
    return storeUnavailable();
  }
  const status = err instanceof HttpException ? err.getStatus() : (err as { statusCode?: number })?.statusCode;
  const code = (err as { code?: string })?.code;
  const aboutBody = (errorCode: ErrorCode, message: string) => fail(errorCode, `body: ${message}`, [{ field: 'body', message }]);
  if (status === 413 || code === 'FST_ERR_CTP_BODY_TOO_LARGE') return aboutBody(ErrorCode.PAYLOAD_TOO_LARGE, 'request body is larger than 1 MiB');
  if (status === 404) return fail(ErrorCode.ROUTE_NOT_FOUND, 'no such route');
  if (status === 415) return aboutBody(ErrorCode.VALIDATION, 'Content-Type must be application/json');
  if (status && status >= 400 && status < 500) return aboutBody(ErrorCode.VALIDATION, err instanceof Error ? err.message : 'bad request');
  log.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  return fail(ErrorCode.INTERNAL, 'internal error');
}

@Catch()
export class EnvelopeFilter implements ExceptionFilter {
  private readonly log = new Logger('Gateway');
  private readonly outages = new OutageLog(this.log);

  catch(err: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const envelope = envelopeFor(err, this.log, this.outages);
    void replyFor(reply, envelope.code).send(envelope);
  }
}
