import { IsIn, IsInt, IsNumber, IsObject, IsOptional, IsString, Matches, Max, MaxLength, Min, MinLength } from 'class-validator';
import { CrossFieldRules, Violation } from '../envelope';
import { ForTenant, ToNumber } from '../validation';
import { MAX_PAGE_SIZE } from '../card/card.dto';
import { badTime, EventFieldsDto, MAX_POINTS } from './points.dto';

const POINTS = { maxDecimalPlaces: 4, allowNaN: false, allowInfinity: false };
const TIME_TEXT = /^\d{4}-\d{2}-\d{2} ([01]\d|2[0-3]):[0-5]\d:[0-5]\d$/;

/** fixed: the same points for every event; per_amount: `rate` points per unit of order_items.pay_amount, rounded to whole points. */
export const RULE_MODES = ['fixed', 'per_amount'] as const;
export const ROUNDINGS = ['floor', 'round', 'ceil'] as const;

export class RuleDto implements CrossFieldRules {
  /** @example "order_pay" */
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  action_scene: string;

  /** @example "1 point per yuan" */
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  name: string;

  /** @example "per_amount" */
  @IsIn([...RULE_MODES])
  mode: string;

  /** Points per event (mode fixed). @example 10 */
  @IsOptional()
  @IsNumber(POINTS, { message: 'points must be a number with at most 4 decimal places' })
  @Min(0.0001)
  @Max(MAX_POINTS)
  points?: number;

  /** Points per unit of pay_amount (mode per_amount). @example 1 */
  @IsOptional()
  @IsNumber(POINTS, { message: 'rate must be a number with at most 4 decimal places' })
  @Min(0.0001)
  @Max(MAX_POINTS)
  rate?: number;

  /** How per_amount points are rounded to whole points; floor when absent. @example "floor" */
  @IsOptional()
  @IsIn([...ROUNDINGS])
  rounding?: string;

  /** At most this many points per member per day (tenant zone) from this rule. @example 500 */
  @IsOptional()
  @IsNumber(POINTS, { message: 'daily_cap must be a number with at most 4 decimal places' })
  @Min(0.0001)
  @Max(MAX_POINTS)
  daily_cap?: number;

  /** At most this many points per member in all from this rule. @example 5000 */
  @IsOptional()
  @IsNumber(POINTS, { message: 'total_cap must be a number with at most 4 decimal places' })
  @Min(0.0001)
  @Max(MAX_POINTS)
  total_cap?: number;

  /** @example 180 */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(36_500)
  expire_days?: number;

  /** @example 0 */
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(87_600)
  freeze_hours?: number;

  /** Active from (tenant zone); always when absent. @example "2022-06-01 00:00:00" */
  @IsOptional()
  @IsString()
  @Matches(TIME_TEXT, { message: 'starts_at must be YYYY-MM-DD HH:mm:ss' })
  starts_at?: string;

  /** Active until (exclusive); always when absent. @example "2022-12-31 00:00:00" */
  @IsOptional()
  @IsString()
  @Matches(TIME_TEXT, { message: 'ends_at must be YYYY-MM-DD HH:mm:ss' })
  ends_at?: string;

  ruleViolations(): Violation[] {
    const out = [badTime('starts_at', this.starts_at), badTime('ends_at', this.ends_at)].filter((v): v is Violation => v !== null);
    if (this.mode === 'fixed' && this.points === undefined) out.push({ field: 'points', message: 'points is required when mode is fixed' });
    if (this.mode === 'per_amount' && this.rate === undefined) out.push({ field: 'rate', message: 'rate is required when mode is per_amount' });
    if (this.starts_at && this.ends_at && this.ends_at <= this.starts_at) out.push({ field: 'ends_at', message: 'ends_at must be after starts_at' });
    return out;
  }
}

export class RuleIdDto {
  /** @example 1 */
  @ToNumber()
  @IsInt()
  @Min(1)
  rule_id: number;
}

export class UpdateRuleDto extends RuleDto {
  /** The rule to replace (every field is set anew). @example 1 */
  @IsInt()
  @Min(1)
  rule_id: number;
}

export class ListRulesQueryDto {
  /** @example "order_pay" */
  @IsOptional()
  @IsString()
  @MaxLength(64)
  action_scene?: string;

  /** Disabled rules too. @example false */
  @IsOptional()
  @IsIn(['true', 'false', true, false])
  include_disabled?: string | boolean;

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

export class ProduceByRuleDto extends EventFieldsDto {
  /** The spec sends the order as order_items; order_info (as in produce/direct) is read too. */
  static readonly ALIASES = { order_info: 'order_items' };

  /** @example "user_login" */
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  action_scene: string;

  /** This rule rather than the active rule of the scene. @example 1 */
  @IsOptional()
  @IsInt()
  @Min(1)
  rule_id?: number;

  /** These points rather than the rule's; the rule's caps still apply. @example 10 */
  @IsOptional()
  @IsNumber(POINTS, { message: 'points must be a number with at most 4 decimal places' })
  @Min(0.0001)
  @Max(MAX_POINTS)
  points?: number;

  /** Days until these points expire, rather than the rule's expire_days. @example 180 */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(36_500)
  expire_days?: number;

  /** Hours before these points can be spent, rather than the rule's freeze_hours (0: at once). @example 0 */
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(87_600)
  freeze_hours?: number;

  /** order or event. @example "event" */
  @IsString()
  @MinLength(1)
  @MaxLength(32)
  event_type: string;

  /** The order (pay_amount is needed by a per_amount rule). @example {"order_sn": "SN1", "pay_amount": 100, "item_list": []} */
  @IsOptional()
  @IsObject()
  order_items?: Record<string, unknown>;

  ruleViolations(): Violation[] {
    const out = super.ruleViolations();
    const pay = this.order_items?.pay_amount;
    if (pay !== undefined && !(typeof pay === 'number' && Number.isFinite(pay) && pay >= 0 && /^\d+(\.\d{1,2})?$/.test(String(pay)))) {
      out.push({ field: 'order_items.pay_amount', message: 'order_items.pay_amount must be a number of at least 0 with at most 2 decimal places' });
    }
    return out;
  }
}

export class RuleMsg extends ForTenant(RuleDto) {}
export class UpdateRuleMsg extends ForTenant(UpdateRuleDto) {}
export class RuleIdMsg extends ForTenant(RuleIdDto) {}
export class ListRulesMsg extends ForTenant(ListRulesQueryDto) {}
export class ProduceByRuleMsg extends ForTenant(ProduceByRuleDto) {}

/** A rule as answered. */
export interface RuleView {
  rule_id: number;
  crm_id: string;
  action_scene: string;
  name: string;
  mode: string;
  points: number | null;
  rate: number | null;
  rounding: string;
  daily_cap: number | null;
  total_cap: number | null;
  expire_days: number | null;
  freeze_hours: number | null;
  starts_at: string | null;
  ends_at: string | null;
  enabled: boolean;
  create_time: string;
  update_time: string;
}
