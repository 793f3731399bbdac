import Bull from 'bull';
import { lastValueFrom } from 'rxjs';
import {
  ConsumeDirectDto,
  Envelope,
  PointsEventJobData,
  pointsEventJobId,
  PointsEventKind,
  PointsEventView,
  PointsPattern,
  ProduceByRuleDto,
  ProduceDirectDto,
  Queue,
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
 * transport and answers the envelope (the producer knows it landed); `enqueue` puts the
 * event on the durable `points-events` Bull queue (fire and forget: it survives restarts
 * and is retried). Both reach the same handlers with the same idempotency by event_no.
 */
export class PointsClient {
  private readonly transport: RedisStreamsClient;
  private readonly queue: Bull.Queue<PointsEventJobData>;

  constructor(opts: PointsClientOptions) {
    this.transport = new RedisStreamsClient({ service: Service.POINTS, redisUrl: opts.redisUrl, timeoutMs: opts.timeoutMs ?? 10_000 });
    this.queue = new Bull(Queue.POINTS_EVENTS, opts.redisUrl, { prefix: 'loyalty' });
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

  /** Queues an event durably; resolves once Redis has it (not once it is applied). */
  async enqueue(kind: PointsEventKind, crmId: string, event: object): Promise<void> {
    const data: PointsEventJobData = { kind, event: { ...event, crm_id: crmId } };
    await this.queue.add(data, {
      jobId: pointsEventJobId(data),
      attempts: 10,
      backoff: { type: 'exponential', delay: 1_000 },
      removeOnComplete: 10_000,
      removeOnFail: false,
    });
  }

  async close(): Promise<void> {
    await Promise.all([this.transport.close(), this.queue.close()]);
  }

  private async send(pattern: string, crmId: string, e: object): Promise<Envelope<PointsEventView>> {
    try {
      return await lastValueFrom(this.transport.send<Envelope<PointsEventView>>(pattern, { ...e, crm_id: crmId }));
    } catch (err) {
      if (typeof err === 'object' && err !== null && 'code' in err) return err as Envelope<never>;
      throw err;
    }
  }
}
