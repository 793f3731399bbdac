import { ArrayMaxSize, IsArray, IsIn, IsISO8601, IsJSON, IsString, Matches, NotContains, ValidateBy } from 'class-validator';
import { Violation } from '../envelope';
import { CRM_ID_PATTERN } from '../validation';
import { WEBHOOK_EVENT_TYPES, WEBHOOK_EVENTS_PER_INGEST, WEBHOOK_INGEST_FIELDS, WebhookEventType, WebhookIngestMsg, WebhookSource } from './webhooks';

const each = (message: string) => ({ each: true, message });

const isMemberNo = (v: unknown) => v === null || (typeof v === 'string' && v.length >= 1 && v.length <= 64);

/**
 * `webhook.ingest`: the events of one service's outbox, oldest first, one array per field
 * (WebhookIngestMsg), every element checked; the arrays are of one length.
 */
export class WebhookIngestDto implements WebhookIngestMsg {
  @IsIn(['card', 'points'])
  source!: WebhookSource;

  @IsArray()
  @ArrayMaxSize(WEBHOOK_EVENTS_PER_INGEST)
  @IsString(each('crm_id must hold strings'))
  @Matches(CRM_ID_PATTERN, each('crm_id must hold 1-32 letters, digits, _ or - per event'))
  crm_id!: string[];

  @IsArray()
  @ArrayMaxSize(WEBHOOK_EVENTS_PER_INGEST)
  @IsString(each('event_id must hold strings'))
  @Matches(/^(card|points)-\d{1,19}$/, each('event_id must hold card-<n> or points-<n> per event'))
  event_id!: string[];

  @IsArray()
  @ArrayMaxSize(WEBHOOK_EVENTS_PER_INGEST)
  @IsIn([...WEBHOOK_EVENT_TYPES], each('type must hold a webhook event type per event'))
  type!: WebhookEventType[];

  @IsArray()
  @ArrayMaxSize(WEBHOOK_EVENTS_PER_INGEST)
  @ValidateBy({ name: 'isMemberNoOrNull', validator: { validate: isMemberNo } }, each('member_no must hold null or 1-64 characters per event'))
  member_no!: Array<string | null>;

  @IsArray()
  @ArrayMaxSize(WEBHOOK_EVENTS_PER_INGEST)
  @IsISO8601({ strict: true }, each('occurred_at must hold an ISO 8601 time per event'))
  occurred_at!: string[];

  @IsArray()
  @ArrayMaxSize(WEBHOOK_EVENTS_PER_INGEST)
  @IsString(each('data_json must hold strings'))
  @Matches(/^\{[\s\S]*\}$/, each('data_json must hold the JSON text of an object per event'))
  @IsJSON(each('data_json must hold the JSON text of an object per event'))
  // PostgreSQL's jsonb has no place for the NUL character: one would fail the whole batch.
  @NotContains('\\u0000', each('data_json must not contain the NUL character (\\u0000)'))
  data_json!: string[];

  ruleViolations(): Violation[] {
    const n = this.event_id.length;
    return WEBHOOK_INGEST_FIELDS.filter((f) => this[f].length !== n).map((f) => ({
      field: f,
      message: `${f} must have one element per event (${n}, as event_id), not ${this[f].length}`,
    }));
  }
}
