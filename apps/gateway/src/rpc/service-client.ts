import { Logger } from '@nestjs/common';
import { lastValueFrom } from 'rxjs';
import { Envelope, ErrorCode, fail, isEnvelope, ServiceName } from '@app/domain';
import { RedisStreamsClient } from '@app/platform';

export const CARD_CLIENT = Symbol('CARD_CLIENT');
export const POINTS_CLIENT = Symbol('POINTS_CLIENT');
export const DASHBOARD_CLIENT = Symbol('DASHBOARD_CLIENT');
export const WEBHOOK_CLIENT = Symbol('WEBHOOK_CLIENT');

/** Sends a request to one service and always comes back with an envelope. */
export class ServiceClient {
  private readonly log = new Logger(ServiceClient.name);

  constructor(
    readonly service: ServiceName,
    private readonly transport: RedisStreamsClient,
  ) {}

  async call<T>(pattern: string, payload: object): Promise<Envelope<T>> {
    try {
      const answer = await lastValueFrom(this.transport.send(pattern, payload), { defaultValue: undefined });
      if (isEnvelope(answer)) return answer as Envelope<T>;
      this.log.error(`${this.service} answered ${pattern} without an envelope`);
      return fail(ErrorCode.INTERNAL, 'internal error');
    } catch (err) {
      if (isEnvelope(err)) return err as Envelope<never>;
      this.log.error(`${this.service} failed on ${pattern}: ${JSON.stringify(err)}`);
      return fail(ErrorCode.INTERNAL, 'internal error');
    }
  }

  close(): Promise<void> {
    return this.transport.close();
  }
}
