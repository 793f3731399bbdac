import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsISO8601,
  IsJSON,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  MinLength,
  NotContains,
  ValidateNested,
} from 'class-validator';
import { CRM_ID_PATTERN } from '../validation';
import { WEBHOOK_EVENT_TYPES, WEBHOOK_EVENTS_PER_INGEST, WebhookEventIn, WebhookEventType, WebhookIngestMsg, WebhookSource } from './webhooks';

/** One event handed to webhook-service (WebhookEventIn), checked with its request. */
export class WebhookEventInDto implements WebhookEventIn {
  @IsString()
  @Matches(CRM_ID_PATTERN, { message: 'crm_id must be 1-32 letters, digits, _ or -' })
  crm_id!: string;

  @IsString()
  @Matches(/^(card|points)-\d{1,19}$/, { message: 'event_id must be card-<n> or points-<n>' })
  event_id!: string;

  @IsIn([...WEBHOOK_EVENT_TYPES])
  type!: WebhookEventType;

  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  member_no!: string | null;

  @IsISO8601({ strict: true })
  occurred_at!: string;

  @IsString()
  @Matches(/^\{[\s\S]*\}$/, { message: 'data_json must be the JSON text of an object' })
  @IsJSON({ message: 'data_json must be the JSON text of an object' })
  // PostgreSQL's jsonb has no place for the NUL character: one would fail the whole batch.
  @NotContains('\\u0000', { message: 'data_json must not contain the NUL character (\\u0000)' })
  data_json!: string;
}

/** `webhook.ingest`: the events of one service's outbox, oldest first. */
export class WebhookIngestDto implements WebhookIngestMsg {
  @IsIn(['card', 'points'])
  source!: WebhookSource;

  @IsArray()
  @ArrayMaxSize(WEBHOOK_EVENTS_PER_INGEST)
  @ValidateNested({ each: true })
  @Type(() => WebhookEventInDto)
  events!: WebhookEventInDto[];
}
