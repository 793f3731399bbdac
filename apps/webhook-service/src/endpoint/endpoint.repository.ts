import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { WebhookEventType, WebhookView } from '@app/domain';
import { fmtTime } from '@app/platform';

type Row = Record<string, any>;

/** $2 is the zone. */
const COLUMNS = `
  e.webhook_id, e.crm_id, e.url, e.events, e.description, e.status, e.disabled_reason,
  ${fmtTime('e.failing_since', '$2')} AS failing_since, ${fmtTime('e.create_time', '$2')} AS create_time, ${fmtTime('e.update_time', '$2')} AS update_time`;

const toView = (r: Row): WebhookView => ({ ...(r as WebhookView), events: r.events as WebhookEventType[] });

/** Where and how a delivery is sent: the endpoint's address and the secrets to sign with. */
export interface EndpointTarget {
  crm_id: string;
  webhook_id: string;
  url: string;
  /** The current secret first; the one before a rotation too while its grace lasts. */
  secrets: string[];
}

export interface EndpointFields {
  url?: string;
  events?: WebhookEventType[];
  description?: string;
}

/** Every query on subscriptions. */
@Injectable()
export class EndpointRepository {
  constructor(private readonly db: DataSource) {}

  async insert(crmId: string, webhookId: string, f: Required<EndpointFields>, secret: string, tz: string, now: Date): Promise<WebhookView> {
    await this.db.query(
      `INSERT INTO webhook.endpoint (crm_id, webhook_id, url, events, description, secret, create_time, update_time)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`,
      [crmId, webhookId, f.url, f.events, f.description, secret, now],
    );
    return (await this.find(crmId, webhookId, tz))!;
  }

  async find(crmId: string, webhookId: string, tz: string): Promise<WebhookView | null> {
    const [row] = await this.db.query(`SELECT ${COLUMNS} FROM webhook.endpoint e WHERE e.crm_id = $1 AND e.webhook_id = $3`, [crmId, tz, webhookId]);
    return row ? toView(row) : null;
  }

  /** The tenant's subscriptions, oldest first (a tenant has a handful). */
  async list(crmId: string, tz: string): Promise<WebhookView[]> {
    const rows: Row[] = await this.db.query(`SELECT ${COLUMNS} FROM webhook.endpoint e WHERE e.crm_id = $1 ORDER BY e.create_time, e.webhook_id`, [crmId, tz]);
    return rows.map(toView);
  }

  /** Replaces the fields given; false when the tenant has no such subscription. */
  async update(crmId: string, webhookId: string, f: EndpointFields, now: Date): Promise<boolean> {
    const [, affected] = await this.db.query(
      `UPDATE webhook.endpoint SET url = COALESCE($3, url), events = COALESCE($4, events), description = COALESCE($5, description), update_time = $6
        WHERE crm_id = $1 AND webhook_id = $2`,
      [crmId, webhookId, f.url ?? null, f.events ?? null, f.description ?? null, now],
    );
    return affected > 0;
  }

  /** Enables (clearing the failure streak) or disables with a reason; false when there is no such subscription. */
  async setStatus(crmId: string, webhookId: string, status: 'enabled' | 'disabled', reason: string | null, now: Date): Promise<boolean> {
    const [, affected] = await this.db.query(
      `UPDATE webhook.endpoint
          SET status = $3, disabled_reason = $4, failing_since = CASE WHEN $3 = 'enabled' THEN NULL ELSE failing_since END, update_time = $5
        WHERE crm_id = $1 AND webhook_id = $2`,
      [crmId, webhookId, status, reason, now],
    );
    return affected > 0;
  }

  /** A new secret; the old one still signs (beside it) until `graceUntil`. */
  async rotate(crmId: string, webhookId: string, secret: string, graceUntil: Date, now: Date): Promise<boolean> {
    const [, affected] = await this.db.query(
      `UPDATE webhook.endpoint SET previous_secret = secret, previous_secret_until = $4, secret = $3, update_time = $5
        WHERE crm_id = $1 AND webhook_id = $2`,
      [crmId, webhookId, secret, graceUntil, now],
    );
    return affected > 0;
  }

  /** Deletes the subscription and its deliveries. */
  async delete(crmId: string, webhookId: string): Promise<boolean> {
    const [, affected] = await this.db.query('DELETE FROM webhook.endpoint WHERE crm_id = $1 AND webhook_id = $2', [crmId, webhookId]);
    return affected > 0;
  }
}
