import { Inject, Injectable } from '@nestjs/common';
import {
  DeliveriesMsg,
  DeliveryIdMsg,
  DeliveryView,
  Envelope,
  ErrorCode,
  fail,
  ok,
  Page,
  ReplayMsg,
  ReplayView,
  WebhookIngestMsg,
  WebhookIngestReply,
} from '@app/domain';
import { AppConfig, Clock, CONFIG } from '@app/platform';
import { EndpointRepository } from '../endpoint/endpoint.repository';
import { DeliveryRepository } from './delivery.repository';
import { DeliverySignal } from './delivery.signal';

/** Events handed over by the services, and what a tenant sees of its deliveries: list, retry, replay. */
@Injectable()
export class DeliveryService {
  constructor(
    private readonly deliveries: DeliveryRepository,
    private readonly endpoints: EndpointRepository,
    private readonly signal: DeliverySignal,
    private readonly clock: Clock,
    @Inject(CONFIG) private readonly cfg: AppConfig,
  ) {}

  /** Committed before the answer: the forwarder deletes its outbox rows only after it. Sending the same events again adds nothing. */
  async ingest(m: WebhookIngestMsg): Promise<Envelope<WebhookIngestReply>> {
    if (!m.event_id.length) return ok({ accepted: 0, deliveries: 0 });
    const reply = await this.deliveries.ingest(m, this.clock.now());
    if (reply.deliveries) this.signal.wake();
    return ok(reply);
  }

  async list(m: DeliveriesMsg): Promise<Envelope<Page<DeliveryView>>> {
    if (!(await this.endpoints.find(m.crm_id, m.webhook_id, this.cfg.appTz))) return notFound(m.webhook_id);
    return ok(await this.deliveries.list(m.crm_id, m.webhook_id, m.status, m.page_id ?? 1, m.page_size ?? 20, this.cfg.appTz));
  }

  /** Due at once, with the whole retry schedule ahead, whatever became of it. */
  async retry(m: DeliveryIdMsg): Promise<Envelope<DeliveryView>> {
    if (!(await this.deliveries.retry(m.crm_id, m.webhook_id, m.delivery_id, this.clock.now()))) {
      return fail(ErrorCode.DELIVERY_NOT_FOUND, `delivery ${m.delivery_id} of webhook ${m.webhook_id} not found`);
    }
    this.signal.wake();
    return ok((await this.deliveries.find(m.crm_id, m.webhook_id, m.delivery_id, this.cfg.appTz))!, 'delivery queued again');
  }

  /** A new delivery of every kept event of the range, of the subscription's types (events are kept WEBHOOK_EVENT_KEEP_DAYS). */
  async replay(m: ReplayMsg): Promise<Envelope<ReplayView>> {
    if (!(await this.endpoints.find(m.crm_id, m.webhook_id, this.cfg.appTz))) return notFound(m.webhook_id);
    const replayed = await this.deliveries.replay(m.crm_id, m.webhook_id, m.from, m.to, this.cfg.appTz, this.clock.now());
    if (replayed) this.signal.wake();
    return ok({ replayed }, `${replayed} event(s) queued for delivery again`);
  }
}

const notFound = (webhookId: string) => fail(ErrorCode.WEBHOOK_NOT_FOUND, `webhook ${webhookId} not found`);
