import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import {
  Envelope,
  ErrorCode,
  fail,
  invalid,
  ListWebhooksMsg,
  ok,
  UpdateWebhookMsg,
  WebhookIdMsg,
  WebhookMsg,
  WebhookSecretView,
  WebhookView,
} from '@app/domain';
import { AppConfig, Clock, CONFIG } from '@app/platform';
import { urlProblem } from '../delivery/sender';
import { EndpointRepository } from './endpoint.repository';

/** After a rotation the old secret still signs, beside the new one, this long: receivers switch without losing a delivery. */
export const ROTATION_GRACE_MS = 24 * 3_600_000;

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const newWebhookId = () => `wh_${[...randomBytes(16)].map((b) => ID_ALPHABET[b % ID_ALPHABET.length]).join('')}`;
/** A Standard Webhooks secret: whsec_ and 32 random bytes in base64. */
const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

/** A tenant's webhook subscriptions: create (the secret shown once), list, read, update, disable, enable, delete, rotate the secret. */
@Injectable()
export class EndpointService {
  constructor(
    private readonly endpoints: EndpointRepository,
    private readonly clock: Clock,
    @Inject(CONFIG) private readonly cfg: AppConfig,
  ) {}

  async create(m: WebhookMsg): Promise<Envelope<WebhookSecretView>> {
    const bad = this.badUrl(m.url);
    if (bad) return bad;
    const secret = newSecret();
    const view = await this.endpoints.insert(
      m.crm_id,
      newWebhookId(),
      { url: m.url, events: m.events, description: m.description ?? '' },
      secret,
      this.cfg.appTz,
      this.clock.now(),
    );
    return ok({ ...view, secret }, 'webhook created: keep the secret, it is not shown again');
  }

  async list(m: ListWebhooksMsg): Promise<Envelope<WebhookView[]>> {
    return ok(await this.endpoints.list(m.crm_id, this.cfg.appTz));
  }

  async detail(m: WebhookIdMsg): Promise<Envelope<WebhookView>> {
    const view = await this.endpoints.find(m.crm_id, m.webhook_id, this.cfg.appTz);
    return view ? ok(view) : notFound(m.webhook_id);
  }

  async update(m: UpdateWebhookMsg): Promise<Envelope<WebhookView>> {
    const bad = m.url === undefined ? null : this.badUrl(m.url);
    if (bad) return bad;
    if (!(await this.endpoints.update(m.crm_id, m.webhook_id, m, this.clock.now()))) return notFound(m.webhook_id);
    return this.detail(m);
  }

  /** Stops deliveries (pending ones wait); disabling again answers the same. */
  async disable(m: WebhookIdMsg): Promise<Envelope<WebhookView>> {
    if (!(await this.endpoints.setStatus(m.crm_id, m.webhook_id, 'disabled', 'disabled by hand', this.clock.now()))) return notFound(m.webhook_id);
    return this.detail(m);
  }

  /** Deliveries go on, pending ones first; the failure streak starts afresh. */
  async enable(m: WebhookIdMsg): Promise<Envelope<WebhookView>> {
    if (!(await this.endpoints.setStatus(m.crm_id, m.webhook_id, 'enabled', null, this.clock.now()))) return notFound(m.webhook_id);
    return this.detail(m);
  }

  async delete(m: WebhookIdMsg): Promise<Envelope<{ webhook_id: string; deleted: true }>> {
    if (!(await this.endpoints.delete(m.crm_id, m.webhook_id))) return notFound(m.webhook_id);
    return ok({ webhook_id: m.webhook_id, deleted: true }, 'webhook deleted with its deliveries');
  }

  async rotateSecret(m: WebhookIdMsg): Promise<Envelope<WebhookSecretView>> {
    const secret = newSecret();
    const now = this.clock.now();
    if (!(await this.endpoints.rotate(m.crm_id, m.webhook_id, secret, new Date(now.getTime() + ROTATION_GRACE_MS), now))) return notFound(m.webhook_id);
    const view = (await this.endpoints.find(m.crm_id, m.webhook_id, this.cfg.appTz))!;
    return ok({ ...view, secret }, 'secret rotated: deliveries carry a signature with each secret for 24 hours');
  }

  private badUrl(url: string): Envelope<never> | null {
    const problem = urlProblem(url, this.cfg.webhookAllowPrivateHosts);
    return problem ? invalid([{ field: 'url', message: problem }]) : null;
  }
}

const notFound = (webhookId: string) => fail(ErrorCode.WEBHOOK_NOT_FOUND, `webhook ${webhookId} not found`);
