import { ArrayMaxSize, ArrayNotEmpty, ArrayUnique, IsArray, IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { CrossFieldRules, Violation } from '../envelope';
import { ForTenant, ToNumber } from '../validation';
import { MAX_PAGE_SIZE } from '../card/card.dto';
import { badTime } from '../points/points.dto';
import { WEBHOOK_EVENT_TYPES, WebhookEventType } from '../contracts/webhooks';

export const WEBHOOK_ID_PATTERN = /^wh_[A-Za-z0-9]{1,40}$/;
const HTTP_URL = /^https?:\/\/[^\s/?#]+[^\s]*$/i;
const TIME_TEXT = /^\d{4}-\d{2}-\d{2} ([01]\d|2[0-3]):[0-5]\d:[0-5]\d$/;
export const WEBHOOK_STATUSES = ['enabled', 'disabled'] as const;
export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;

/** A subscription: where to POST, and which event types. */
export class WebhookDto {
  /** The endpoint; http(s), no credentials in it; never a loopback or private address (unless the operator allows them). @example "https://crm.example.com/hooks/loyalty" */
  @IsString()
  @MaxLength(2048)
  @Matches(HTTP_URL, { message: 'url must be an http or https URL' })
  url: string;

  /** Event types to send (see /docs, Webhooks). @example ["coupon.claimed","coupon.redeemed","points.earned"] */
  @IsArray()
  @ArrayNotEmpty()
  @ArrayMaxSize(WEBHOOK_EVENT_TYPES.length)
  @ArrayUnique()
  @IsIn([...WEBHOOK_EVENT_TYPES], { each: true, message: `each of events must be one of ${WEBHOOK_EVENT_TYPES.join(', ')}` })
  events: WebhookEventType[];

  /** For people. @example "order system" */
  @IsOptional()
  @IsString()
  @MaxLength(256)
  description?: string;
}

/** Changes to a subscription: the fields given replace the stored ones. */
export class UpdateWebhookDto implements CrossFieldRules {
  /** @example "https://crm.example.com/hooks/loyalty-v2" */
  @IsOptional()
  @IsString()
  @MaxLength(2048)
  @Matches(HTTP_URL, { message: 'url must be an http or https URL' })
  url?: string;

  /** @example ["coupon.claimed"] */
  @IsOptional()
  @IsArray()
  @ArrayNotEmpty()
  @ArrayMaxSize(WEBHOOK_EVENT_TYPES.length)
  @ArrayUnique()
  @IsIn([...WEBHOOK_EVENT_TYPES], { each: true, message: `each of events must be one of ${WEBHOOK_EVENT_TYPES.join(', ')}` })
  events?: WebhookEventType[];

  /** @example "order system (v2)" */
  @IsOptional()
  @IsString()
  @MaxLength(256)
  description?: string;

  ruleViolations(): Violation[] {
    if (this.url === undefined && this.events === undefined && this.description === undefined) {
      return [{ field: 'body', message: 'give at least one of url, events, description' }];
    }
    return [];
  }
}

export class WebhookIdDto {
  /** @example "wh_3k9x0c2m7q" */
  @IsString()
  @Matches(WEBHOOK_ID_PATTERN, { message: 'webhook_id must be wh_ and letters or digits' })
  webhook_id: string;
}

export class DeliveriesQueryDto {
  /** Only deliveries in this state. @example "failed" */
  @IsOptional()
  @IsIn([...DELIVERY_STATUSES])
  status?: string;

  /** @example 1 */
  @IsOptional()
  @ToNumber()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  page_id?: number;

  /** @example 20 */
  @IsOptional()
  @ToNumber()
  @IsInt()
  @Min(1)
  @Max(MAX_PAGE_SIZE)
  page_size?: number;
}

export class DeliveryIdDto {
  /** @example 1042 */
  @ToNumber()
  @IsInt()
  @Min(1)
  delivery_id: number;
}

/** Deliver again every event of the range (tenant's zone, both ends included) of the subscription's types. */
export class ReplayDto implements CrossFieldRules {
  /** @example "2026-12-01 00:00:00" */
  @IsString()
  @Matches(TIME_TEXT, { message: 'from must be YYYY-MM-DD HH:mm:ss' })
  from: string;

  /** @example "2026-12-01 23:59:59" */
  @IsString()
  @Matches(TIME_TEXT, { message: 'to must be YYYY-MM-DD HH:mm:ss' })
  to: string;

  ruleViolations(): Violation[] {
    const bad = [badTime('from', this.from), badTime('to', this.to)].filter((v): v is Violation => v !== null);
    if (bad.length) return bad;
    return this.from > this.to ? [{ field: 'to', message: 'to must not be before from' }] : [];
  }
}

export class WebhookMsg extends ForTenant(WebhookDto) {}
export class WebhookIdMsg extends ForTenant(WebhookIdDto) {}
export class UpdateWebhookMsg extends ForTenant(UpdateWebhookDto) {
  @IsString()
  @Matches(WEBHOOK_ID_PATTERN, { message: 'webhook_id must be wh_ and letters or digits' })
  webhook_id: string;
}
export class ListWebhooksMsg extends ForTenant(class {}) {}
export class DeliveriesMsg extends ForTenant(DeliveriesQueryDto) {
  @IsString()
  @Matches(WEBHOOK_ID_PATTERN, { message: 'webhook_id must be wh_ and letters or digits' })
  webhook_id: string;
}
export class DeliveryIdMsg extends ForTenant(DeliveryIdDto) {
  @IsString()
  @Matches(WEBHOOK_ID_PATTERN, { message: 'webhook_id must be wh_ and letters or digits' })
  webhook_id: string;
}
export class ReplayMsg extends ForTenant(ReplayDto) {
  @IsString()
  @Matches(WEBHOOK_ID_PATTERN, { message: 'webhook_id must be wh_ and letters or digits' })
  webhook_id: string;
}

/** A subscription as answered (never its secret, except in the answers that make one). */
export interface WebhookView {
  webhook_id: string;
  crm_id: string;
  url: string;
  events: WebhookEventType[];
  description: string;
  /** enabled, or disabled (by hand, or after failing for the whole retry schedule). */
  status: (typeof WEBHOOK_STATUSES)[number];
  /** Why it is disabled; null when enabled. */
  disabled_reason: string | null;
  /** First failed attempt since the last delivered one; null when the last attempt was delivered (or none yet). */
  failing_since: string | null;
  create_time: string;
  update_time: string;
}

/** create and rotate_secret: the secret, shown this once. */
export interface WebhookSecretView extends WebhookView {
  /** Standard Webhooks signing secret (whsec_...): keep it; it is not shown again. */
  secret: string;
}

export interface DeliveryView {
  delivery_id: number;
  webhook_id: string;
  event_id: string;
  type: WebhookEventType;
  member_no: string | null;
  status: (typeof DELIVERY_STATUSES)[number];
  attempts: number;
  /** HTTP status of the last attempt; null when it got no answer (refused, timed out) or none was made yet. */
  last_status: number | null;
  last_error: string | null;
  last_attempt_time: string | null;
  /** When it is tried next (pending only). */
  next_time: string | null;
  delivered_time: string | null;
  create_time: string;
}

export interface ReplayView {
  /** Deliveries made: one per event of the range and of the subscription's types. */
  replayed: number;
}
