import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { FastifyReply } from 'fastify';
import { map, Observable } from 'rxjs';
import { httpStatusOf, isEnvelope } from '@app/domain';

/** The HTTP status follows the envelope's code (one table, in libs/domain). */
@Injectable()
export class EnvelopeStatusInterceptor implements NestInterceptor {
  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(
      map((body) => {
        if (isEnvelope(body)) ctx.switchToHttp().getResponse<FastifyReply>().status(httpStatusOf(body.code));
        return body;
      }),
    );
  }
}
