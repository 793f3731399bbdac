import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsInt,
  IsISO8601,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { CrossFieldRules, Violation } from '../envelope';
import { CRM_ID_PATTERN } from '../validation';
import { CARD_EVENTS_PER_JOB, CardEvent, CardEventBatch, CardEventKind } from './card-events';

const ID_TEXT = /^[A-Za-z0-9_.:#-]{1,64}$/;

/** One event of a `card-events` job (CardEvent), checked with its batch (CardEventBatchDto). */
export class CardEventDto implements CardEvent {
  @IsString()
  @Matches(CRM_ID_PATTERN, { message: 'crm_id must be 1-32 letters, digits, _ or -' })
  crm_id!: string;

  @IsString()
  @Matches(ID_TEXT, { message: 'event_id must be 1-64 letters, digits, _ . : # or -' })
  event_id!: string;

  @IsIn(Object.values(CardEventKind))
  kind!: CardEventKind;

  @IsString()
  @MinLength(1)
  @MaxLength(64)
  card_id!: string;

  @IsString()
  @MaxLength(256)
  title!: string;

  @IsString()
  @MinLength(1)
  @MaxLength(64)
  member_no!: string;

  @IsInt()
  @Min(1)
  @Max(1_000_000)
  count!: number;

  @ValidateIf((_o, v) => v !== null && v !== undefined)
  @IsString()
  @MaxLength(128)
  channel!: string | null;

  @IsISO8601({ strict: true })
  occurred_at!: string;

  @IsISO8601({ strict: true })
  day_of!: string;

  @ValidateIf((_o, v) => v !== null && v !== undefined)
  @IsString()
  @MaxLength(128)
  ref!: string | null;
}

/**
 * The contract of one `card-events` job (CardEventBatch), checked by the dashboard worker
 * before it applies anything: 1 to CARD_EVENTS_PER_JOB events, each a valid CardEventDto
 * of the batch's tenant. One bad event makes the whole job invalid: it is discarded,
 * nothing of it applied.
 */
export class CardEventBatchDto implements CardEventBatch, CrossFieldRules {
  @IsString()
  @Matches(CRM_ID_PATTERN, { message: 'crm_id must be 1-32 letters, digits, _ or -' })
  crm_id!: string;

  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(CARD_EVENTS_PER_JOB)
  @ValidateNested({ each: true })
  @Type(() => CardEventDto)
  events!: CardEventDto[];

  /** Every event is of the batch's tenant (named by its index: `events.3.crm_id`). */
  ruleViolations(): Violation[] {
    const i = this.events.findIndex((e) => e.crm_id !== this.crm_id);
    return i < 0 ? [] : [{ field: `events.${i}.crm_id`, message: `events.${i}.crm_id must be the batch's crm_id (${this.crm_id})` }];
  }
}
