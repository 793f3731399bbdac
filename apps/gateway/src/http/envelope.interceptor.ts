import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { FastifyReply } from 'fastify';
import { map, Observable } from 'rxjs';
import { httpStatusOf, isEnvelope } from '@app/domain';
import { httpErrors, RETRY_AFTER_SECONDS, RETRYABLE_CODES } from '@app/platform';

/** Status and headers of an envelope answer: the status follows its code (one table, in libs/domain); a 503 says when to retry. */
export function replyFor(reply: FastifyReply, code: number): FastifyReply {
  if (RETRYABLE_CODES.has(code)) void reply.header('retry-after', String(RETRY_AFTER_SECONDS));
  if (code !== 0) httpErrors.inc({ code: String(code) });
  return reply.status(httpStatusOf(code));
}

/** The HTTP status follows the envelope's code (one table, in libs/domain). */
@Injectable()
export class EnvelopeStatusInterceptor implements NestInterceptor {
  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(
      map((body) => {
        if (isEnvelope(body)) replyFor(ctx.switchToHttp().getResponse<FastifyReply>(), body.code);
        return body;
      }),
    );
  }
}
