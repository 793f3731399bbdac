import { IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { CrossFieldRules, Violation } from '../envelope';
import { ForTenant, ToNumber } from '../validation';
import { CARD_ID_PATTERN } from '../card/card.ids';

/** Days one dashboard query may cover, at most (a leap year). */
export const MAX_RANGE_DAYS = 366;
/** Days of the default range: the last 7 days, today included. */
export const DEFAULT_RANGE_DAYS = 7;
export const DEFAULT_TOP_LIMIT = 10;
export const MAX_TOP_LIMIT = 100;

const DATE_TEXT = /^\d{4}-\d{2}-\d{2}$/;

/** A `YYYY-MM-DD` field that is not a real day (2022-02-30), or null. */
export function badDate(field: string, text: string | undefined): Violation | null {
  if (text === undefined || dayNumber(text) !== null) return null;
  return { field, message: `${field} is not a real date` };
}

/** Days since 1970-01-01 of a real `YYYY-MM-DD` day (years 0001-9999), or null (2022-02-30, 2022-13-01). */
function dayNumber(text: string): number | null {
  const m = DATE_TEXT.exec(text);
  if (!m) return null;
  const [y, mo, d] = text.split('-').map(Number);
  const at = new Date(0);
  at.setUTCFullYear(y, mo - 1, d);
  if (y < 1 || at.getUTCFullYear() !== y || at.getUTCMonth() !== mo - 1 || at.getUTCDate() !== d) return null;
  return Math.round(at.getTime() / 86_400_000);
}

/**
 * The rules of a range of real days, once both ends are known: start not after end
 * (names start_date), at most MAX_RANGE_DAYS days with both ends counted (names end_date).
 */
export function rangeViolations(start: string, end: string): Violation[] {
  const a = dayNumber(start)!;
  const b = dayNumber(end)!;
  if (a > b) return [{ field: 'start_date', message: `start_date must not be after end_date (${start} > ${end})` }];
  const days = b - a + 1;
  if (days > MAX_RANGE_DAYS)
    return [{ field: 'end_date', message: `end_date must be at most ${MAX_RANGE_DAYS} days from start_date, both counted (${days} asked)` }];
  return [];
}

/**
 * The days a dashboard query covers, in the tenant's zone (APP_TZ). end_date defaults to
 * today, start_date to 6 days before end_date (the last 7 days, today included). The
 * gateway checks what it is given; the service checks again once the defaults are filled.
 */
export class DateRangeDto implements CrossFieldRules {
  /** First day, included; 6 days before end_date when absent. @example "2022-05-18" */
  @IsOptional()
  @IsString()
  @Matches(DATE_TEXT, { message: 'start_date must be YYYY-MM-DD' })
  start_date?: string;

  /** Last day, included; today (tenant zone) when absent. @example "2022-05-24" */
  @IsOptional()
  @IsString()
  @Matches(DATE_TEXT, { message: 'end_date must be YYYY-MM-DD' })
  end_date?: string;

  ruleViolations(): Violation[] {
    const bad = [badDate('start_date', this.start_date), badDate('end_date', this.end_date)].filter((v): v is Violation => v !== null);
    if (bad.length) return bad;
    return this.start_date !== undefined && this.end_date !== undefined ? rangeViolations(this.start_date, this.end_date) : [];
  }
}

/** card_trend and card_channel: a range, optionally one card. */
export class CardTrendDto extends DateRangeDto {
  /** Only this card; every card when absent. @example "21008fdbabd30c04548a56be6eed016c" */
  @IsOptional()
  @Matches(CARD_ID_PATTERN, { message: 'card_id must be 32 lowercase hex characters' })
  card_id?: string;
}

export class CardChannelDto extends CardTrendDto {}

export class CardTopDto extends DateRangeDto {
  /** Cards per list, at most 100; 10 when absent. @example 10 */
  @IsOptional()
  @ToNumber()
  @IsInt()
  @Min(1)
  @Max(MAX_TOP_LIMIT)
  limit?: number;
}

export class CardTrendMsg extends ForTenant(CardTrendDto) {}
export class CardChannelMsg extends ForTenant(CardChannelDto) {}
export class CardTopMsg extends ForTenant(CardTopDto) {}
