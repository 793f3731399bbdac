import { lastValueFrom } from 'rxjs';
import {
  ConsumeDirectDto,
  Envelope,
  PointsEventKind,
  PointsEventView,
  PointsPattern,
  PointsQueuedView,
  ProduceByRuleDto,
  ProduceDirectDto,
  ReverseConsumeDto,
  ReverseProduceDto,
  Service,
  TransferDirectDto,
} from '@app/domain';
import { RedisStreamsClient } from '../transport/redis-streams.client';

/** A points event as a producer sends it: the fields of the route, without the cross-field rule method. */
type Fields<T> = Omit<T, 'ruleViolations'>;

export interface PointsClientOptions {
  redisUrl: string;
  /** Deadline of an answered request. */
  timeoutMs?: number;
}

/**
 * How other services send points events without HTTP. `send*` goes over the Redis
 * transport and answers the event's envelope (the producer knows it landed); `enqueue`
 * writes the event to points-service's inbox (`points.inbox` in PostgreSQL) and answers
 * once that committed, before it is applied: it survives restarts and the loss of Redis,
 * and is applied later by a points-service worker. Both reach the same handlers with the
 * same idempotency by event_no.
 */
export class PointsClient {
  private readonly transport: RedisStreamsClient;

  constructor(opts: PointsClientOptions) {
    this.transport = new RedisStreamsClient({ service: Service.POINTS, redisUrl: opts.redisUrl, timeoutMs: opts.timeoutMs ?? 10_000 });
  }

  produceDirect(crmId: string, e: Fields<ProduceDirectDto>) {
    return this.send(PointsPattern.PRODUCE_DIRECT, crmId, e);
  }

  produceByRule(crmId: string, e: Fields<ProduceByRuleDto>) {
    return this.send(PointsPattern.PRODUCE_BY_RULE, crmId, e);
  }

  consumeDirect(crmId: string, e: Fields<ConsumeDirectDto>) {
    return this.send(PointsPattern.CONSUME_DIRECT, crmId, e);
  }

  reverseProduce(crmId: string, e: Fields<ReverseProduceDto>) {
    return this.send(PointsPattern.REVERSE_PRODUCE, crmId, e);
  }

  reverseConsume(crmId: string, e: Fields<ReverseConsumeDto>) {
    return this.send(PointsPattern.REVERSE_CONSUME, crmId, e);
  }

  transferDirect(crmId: string, e: Fields<TransferDirectDto>) {
    return this.send(PointsPattern.TRANSFER_DIRECT, crmId, e);
  }

  /**
   * Queues an event durably: answers `{code: 0, data: {kind, event_no, duplicate}}` once
   * PostgreSQL has it (not once it is applied); invalid input is 40001 naming `event.<field>`,
   * the same event_no with another payload 40901; a 503 (no answer in time, a store down)
   * may be sent again with the same event_no.
   */
  enqueue(kind: PointsEventKind, crmId: string, event: object): Promise<Envelope<PointsQueuedView>> {
    return this.send(PointsPattern.ENQUEUE, crmId, { kind, event });
  }

  async close(): Promise<void> {
    await this.transport.close();
  }

  private async send<T = PointsEventView>(pattern: string, crmId: string, e: object): Promise<Envelope<T>> {
    try {
      return await lastValueFrom(this.transport.send<Envelope<T>>(pattern, { ...e, crm_id: crmId }));
    } catch (err) {
      if (typeof err === 'object' && err !== null && 'code' in err) return err as Envelope<never>;
      throw err;
    }
  }
}
