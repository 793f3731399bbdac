import { IsBoolean, IsIn, IsInt, IsNumber, IsObject, IsOptional, IsString, Matches, Max, MaxLength, Min, MinLength } from 'class-validator';
import { DateTime } from 'luxon';
import { CrossFieldRules, Violation } from '../envelope';
import { CALLER_ID_PATTERN, ForTenant, ToNumber } from '../validation';
import { MAX_PAGE_SIZE } from '../card/card.dto';

/*
 * Over 300 lines on purpose: the contracts of every points route (the fields the documents
 * name, their aliases and cross-field rules) in one file, so a field's spelling and checks
 * are found in one place; earning rules have their own file (rule.dto.ts).
 */

/** Points have 4 decimal places; more is refused, never rounded. */
const POINTS = { maxDecimalPlaces: 4, allowNaN: false, allowInfinity: false };
export const MAX_POINTS = 1_000_000_000;
const TIME_TEXT = /^\d{4}-\d{2}-\d{2} ([01]\d|2[0-3]):[0-5]\d:[0-5]\d$/;

/** A `YYYY-MM-DD HH:mm:ss` field that is not a real moment (2022-02-30 ...), or null. */
export function badTime(field: string, text: string | undefined): Violation | null {
  if (text === undefined || DateTime.fromFormat(text, 'yyyy-MM-dd HH:mm:ss', { zone: 'UTC' }).isValid) return null;
  return { field, message: `${field} is not a real date and time` };
}

/** What every points event carries besides its amount and scene. */
export class EventFieldsDto implements CrossFieldRules {
  /** Idempotency id of the event, unique per tenant. @example "EACH20220615202826397549953503" */
  @IsString()
  @Matches(CALLER_ID_PATTERN, { message: 'event_no must be 1-64 letters, digits, _ . : or -' })
  event_no: string;

  /** @example "ec_18165fd7455_JGhyfyLmX" */
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  member_no: string;

  /** When it happened, in the tenant's zone; the time of the request when absent. @example "2022-06-15 18:00:00" */
  @IsOptional()
  @IsString()
  @Matches(TIME_TEXT, { message: 'event_at must be YYYY-MM-DD HH:mm:ss' })
  event_at?: string;

  /** @example "ec_mall" */
  @IsOptional()
  @IsString()
  @MaxLength(64)
  store_code?: string;

  /** @example "cost_center001" */
  @IsOptional()
  @IsString()
  @MaxLength(64)
  cost_center?: string;

  /** @example "小程序" */
  @IsOptional()
  @IsString()
  @MaxLength(64)
  operator?: string;

  /** @example "用户购买了100元酸奶" */
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  event_desc?: string;

  ruleViolations(): Violation[] {
    const bad = badTime('event_at', this.event_at);
    return bad ? [bad] : [];
  }
}

class PointsEventDto extends EventFieldsDto {
  /** Up to 4 decimal places. @example 20 */
  @IsNumber(POINTS, { message: 'points must be a number with at most 4 decimal places' })
  @Min(0.0001)
  @Max(MAX_POINTS)
  points: number;

  /** @example "order_pay" */
  @IsOptional()
  @IsString()
  @MaxLength(64)
  action_scene?: string;
}

export class ProduceDirectDto extends PointsEventDto {
  /** The kind of business event. @example "order" */
  @IsString()
  @MinLength(1)
  @MaxLength(32)
  event_type: string;

  /** Days until these points expire; never when absent. @example 180 */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(36_500)
  expire_days?: number;

  /** Hours before these points can be spent; 0 or absent: at once. @example 0 */
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(87_600)
  freeze_hours?: number;

  /** The order the points are for (kept with the event). @example {"order_sn": "SN1", "pay_amount": 100, "item_list": []} */
  @IsOptional()
  @IsObject()
  order_info?: Record<string, unknown>;
}

export class ConsumeDirectDto extends PointsEventDto {
  /** @example "618" */
  @IsOptional()
  @IsString()
  @MaxLength(64)
  campaign_code?: string;
}

class ReverseDto implements CrossFieldRules {
  /** Idempotency id of the reversal. @example "20220615202826397549953514" */
  @IsString()
  @Matches(CALLER_ID_PATTERN, { message: 'event_no must be 1-64 letters, digits, _ . : or -' })
  event_no: string;

  /** @example "ec_18165fd7455_JGhyfyLmX" */
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  member_no: string;

  /** The event to reverse. @example "20220615202826397549953513" */
  @IsString()
  @Matches(CALLER_ID_PATTERN, { message: 'origin_event_no must be 1-64 letters, digits, _ . : or -' })
  origin_event_no: string;

  /** How much to reverse; all that is left of the event when absent. @example 20 */
  @IsOptional()
  @IsNumber(POINTS, { message: 'reverse_points must be a number with at most 4 decimal places' })
  @Min(0.0001)
  @Max(MAX_POINTS)
  reverse_points?: number;

  /** @example "2022-06-16 09:00:00" */
  @IsOptional()
  @IsString()
  @Matches(TIME_TEXT, { message: 'event_at must be YYYY-MM-DD HH:mm:ss' })
  event_at?: string;

  ruleViolations(): Violation[] {
    const bad = badTime('event_at', this.event_at);
    return bad ? [bad] : [];
  }
}

export class ReverseConsumeDto extends ReverseDto {}

export class ReverseProduceDto extends ReverseDto {
  /** When the points of the earn were spent already and the member has too few left: go negative (true) or refuse (false). @example false */
  @IsBoolean()
  allow_negative: boolean;

  /** The after-sale order that caused the reversal (kept with the event). @example {"refund_sn": "R1"} */
  @IsOptional()
  @IsObject()
  refund_info?: Record<string, unknown>;
}

/** transfer_no: like other caller ids, but at most 60 characters (the receiver's journal row is `in#<transfer_no>`). */
export const TRANSFER_NO_PATTERN = /^[A-Za-z0-9_.:-]{1,60}$/;

export class TransferDirectDto implements CrossFieldRules {
  /** Idempotency id of the transfer. @example "EACH20220615202826397549953505" */
  @IsString()
  @Matches(TRANSFER_NO_PATTERN, { message: 'transfer_no must be 1-60 letters, digits, _ . : or -' })
  transfer_no: string;

  /** @example "ec_18165fd7455_JGhyfyLmX" */
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  from_user: string;

  /** @example "mc_18165fd7455_JGhyfyLm2" */
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  to_user: string;

  /** Up to 4 decimal places. @example 10 */
  @IsNumber(POINTS, { message: 'points must be a number with at most 4 decimal places' })
  @Min(0.0001)
  @Max(MAX_POINTS)
  points: number;

  /** As the spec sends it (`by_poins`); kept, not interpreted. @example "by_poins" */
  @IsOptional()
  @IsString()
  @MaxLength(32)
  trans_type?: string;

  ruleViolations(): Violation[] {
    return this.from_user === this.to_user ? [{ field: 'to_user', message: 'to_user must be another member than from_user' }] : [];
  }
}

export class TransferDto extends TransferDirectDto {}

/**
 * The receiver takes a transfer. The spec's table for accept lists the transfer's own
 * fields: `to_user` is read as `member_no`; `from_user`, `points` and `trans_type`, when
 * given, must be the transfer's (else 409 40901 naming the field).
 */
export class AcceptDto implements CrossFieldRules {
  static readonly ALIASES = { to_user: 'member_no' };

  /** @example "EACH20220615202826397549953505" */
  @IsString()
  @Matches(TRANSFER_NO_PATTERN, { message: 'transfer_no must be 1-60 letters, digits, _ . : or -' })
  transfer_no: string;

  /** The receiver (the spec's `to_user` is read as this). @example "mc_18165fd7455_JGhyfyLm2" */
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  member_no: string;

  /** The spec's name of the receiver; when given with member_no, both must be the same. @example "mc_18165fd7455_JGhyfyLm2" */
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  to_user?: string;

  /** The sender, checked against the transfer when given. @example "ec_18165fd7455_JGhyfyLmX" */
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  from_user?: string;

  /** The transfer's points, checked when given. @example 10 */
  @IsOptional()
  @IsNumber(POINTS, { message: 'points must be a number with at most 4 decimal places' })
  @Min(0.0001)
  @Max(MAX_POINTS)
  points?: number;

  /** The transfer's trans_type, checked when given. @example "by_poins" */
  @IsOptional()
  @IsString()
  @MaxLength(32)
  trans_type?: string;

  ruleViolations(): Violation[] {
    return this.to_user !== undefined && this.to_user !== this.member_no
      ? [{ field: 'to_user', message: 'to_user and member_no both name the receiver and must be the same member' }]
      : [];
  }
}

export class MemberQueryDto {
  /** @example "ec_18165fd7455_JGhyfyLmX" */
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  member_no: string;
}

/** The journal's own event types: each filters to the rows of that type. */
export const JOURNAL_TYPES = ['produce', 'consume', 'reverse_produce', 'reverse_consume', 'transfer_out', 'transfer_in', 'transfer_back', 'expired'] as const;

/**
 * The spec's words besides those: `transfer` points sent (transfer_out), `accept` points
 * received by accepting a transfer, `freeze` earns still frozen at the moment asked.
 */
export const HISTORY_WORDS = ['transfer', 'accept', 'freeze'] as const;
export const HISTORY_TYPES = [...JOURNAL_TYPES, ...HISTORY_WORDS] as const;

export class HistoryDto implements CrossFieldRules {
  /** The spec spells the store filter `stroe_code`; both are read. */
  static readonly ALIASES = { stroe_code: 'store_code' };

  /**
   * Event kind: the spec's produce, consume, transfer (sent), accept (received by
   * accepting), expired, freeze (earns still frozen now), or a journal type
   * (reverse_produce, reverse_consume, transfer_out, transfer_in, transfer_back). @example "produce"
   */
  @IsOptional()
  @IsIn([...HISTORY_TYPES], { message: `search_type must be one of ${HISTORY_TYPES.join(', ')}` })
  search_type?: string;

  /** From this time (inclusive), tenant zone. @example "2022-06-01 12:00:00" */
  @IsOptional()
  @IsString()
  @Matches(TIME_TEXT, { message: 'start_time must be YYYY-MM-DD HH:mm:ss' })
  start_time?: string;

  /** Until this time (exclusive), tenant zone. @example "2022-07-01 12:00:00" */
  @IsOptional()
  @IsString()
  @Matches(TIME_TEXT, { message: 'end_time must be YYYY-MM-DD HH:mm:ss' })
  end_time?: string;

  /** @example "ec_18165fd7455_JGhyfyLmX" */
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  member_no?: string;

  /**
   * Members have no mobile numbers here: a query naming `mobile` without `member_no` is
   * refused (400) rather than answered with the whole tenant's journal; beside
   * member_no it is not used. @example "18608011234"
   */
  @IsOptional()
  @IsString()
  @MaxLength(32)
  mobile?: string;

  /** @example "order_pay" */
  @IsOptional()
  @IsString()
  @MaxLength(64)
  action_scene?: string;

  /** @example "618" */
  @IsOptional()
  @IsString()
  @MaxLength(64)
  campaign_code?: string;

  /** @example "ec_mall" */
  @IsOptional()
  @IsString()
  @MaxLength(64)
  store_code?: string;

  /** @example "cost_center001" */
  @IsOptional()
  @IsString()
  @MaxLength(64)
  cost_center?: string;

  /** @example 1 */
  @IsOptional()
  @ToNumber()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  page_id?: number;

  /** At most 100; 20 when absent. @example 20 */
  @IsOptional()
  @ToNumber()
  @IsInt()
  @Min(1)
  @Max(MAX_PAGE_SIZE)
  page_size?: number;

  ruleViolations(): Violation[] {
    const out = [badTime('start_time', this.start_time), badTime('end_time', this.end_time)].filter((v): v is Violation => v !== null);
    if (this.mobile !== undefined && this.member_no === undefined) {
      out.push({ field: 'mobile', message: 'mobile cannot be searched (members have no mobile numbers here): give member_no' });
    }
    return out;
  }
}

export class ProduceDirectMsg extends ForTenant(ProduceDirectDto) {}
export class ConsumeDirectMsg extends ForTenant(ConsumeDirectDto) {}
export class MemberQueryMsg extends ForTenant(MemberQueryDto) {}
export class ReverseConsumeMsg extends ForTenant(ReverseConsumeDto) {}
export class ReverseProduceMsg extends ForTenant(ReverseProduceDto) {}
export class TransferDirectMsg extends ForTenant(TransferDirectDto) {}
export class TransferMsg extends ForTenant(TransferDto) {}
export class AcceptMsg extends ForTenant(AcceptDto) {}
export class HistoryMsg extends ForTenant(HistoryDto) {}
