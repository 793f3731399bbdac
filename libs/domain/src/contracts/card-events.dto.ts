import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsString, Matches, ValidateNested } from 'class-validator';
import { CrossFieldRules, Violation } from '../envelope';
import { CRM_ID_PATTERN } from '../validation';
import { CardEventDto } from '../dashboard/dashboard.dto';
import { CARD_EVENTS_PER_JOB, CardEventBatch } from './card-events';

/**
 * The contract of one `card-events` job (CardEventBatch), checked by the dashboard worker
 * before it applies anything: 1 to CARD_EVENTS_PER_JOB events, each a valid CardEventDto
 * of the batch's tenant. One bad event makes the whole job invalid: it is discarded,
 * nothing of it applied.
 */
export class CardEventBatchDto implements CardEventBatch, CrossFieldRules {
  @IsString() @Matches(CRM_ID_PATTERN, { message: 'crm_id must be 1-32 letters, digits, _ or -' })
  crm_id!: string;

  @IsArray() @ArrayMinSize(1) @ArrayMaxSize(CARD_EVENTS_PER_JOB) @ValidateNested({ each: true }) @Type(() => CardEventDto)
  events!: CardEventDto[];

  /** Every event is of the batch's tenant (named by its index: `events.3.crm_id`). */
  ruleViolations(): Violation[] {
    const i = this.events.findIndex((e) => e.crm_id !== this.crm_id);
    return i < 0 ? [] : [{ field: `events.${i}.crm_id`, message: `events.${i}.crm_id must be the batch's crm_id (${this.crm_id})` }];
  }
}
