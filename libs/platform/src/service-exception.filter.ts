import { ArgumentsHost, Catch, Logger } from '@nestjs/common';
import { BaseRpcExceptionFilter } from '@nestjs/microservices';
import { Observable, throwError } from 'rxjs';
import { isStoreUnavailable, OutageLog, storeUnavailable } from './store-errors';

/**
 * Every service's last word on a failed request: a store outage (PostgreSQL or Redis
 * unreachable, restarting, read-only) is answered 50302 "store unavailable, retry", logged
 * without a line per request; anything else goes on as Nest's default (logged with its
 * stack, answered as an internal error: a bug).
 */
@Catch()
export class ServiceExceptionFilter extends BaseRpcExceptionFilter {
  private readonly outages = new OutageLog(new Logger('Service'));

  catch(exception: unknown, host: ArgumentsHost): Observable<unknown> {
    if (isStoreUnavailable(exception)) {
      this.outages.record(exception);
      return throwError(() => storeUnavailable());
    }
    return super.catch(exception, host);
  }
}
