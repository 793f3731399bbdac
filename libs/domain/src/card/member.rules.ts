import { DateTime } from 'luxon';
import { DateType, parseDayList, SECONDS_PER_DAY } from './card.rules';

/**
 * Status of a member's code (spec: 1 usable, 2 being gifted, 3 redeemed, 4 expired, 5 void);
 * 6: given to a friend who accepted; 7: its claim was reversed (the code went back to the pool).
 * 7 is only answered: the row keeps its last status and is_reversed = 1.
 */
export const CodeStatus = { USABLE: 1, GIFTING: 2, REDEEMED: 3, EXPIRED: 4, VOID: 5, GIVEN: 6, REVERSED: 7 } as const;
export type CodeStatus = (typeof CodeStatus)[keyof typeof CodeStatus];
export const CODE_STATUSES: readonly number[] = Object.values(CodeStatus);

/** 0 claimed directly, 1 received as a gift. */
export const ReceiveType = { CLAIM: 0, GIFT: 1 } as const;

/** The card fields that decide a code's validity. Times are Unix seconds. */
export interface ValidityRule {
  date_type: number;
  begin_time: number | null;
  end_time: number | null;
  start_day_count: number | null;
  expire_day_count: number | null;
}

export interface Validity {
  begin: Date;
  /** The last moment it is valid (the last millisecond of its last second: 23:59:59 is valid to its end); null: never ends. */
  end: Date | null;
}

/** The last millisecond of the second `unixSeconds`. */
const endOfSecond = (unixSeconds: number) => new Date(unixSeconds * 1000 + 999);

/**
 * When a code claimed at `claimedAt` may be used:
 * - date_type 1: the card's range, begin_time .. end_time;
 * - date_type 2: from the start of the day `start_day_count` days after the claim day, for
 *   `expire_day_count` whole days (the last second of the last day is the end), days in `tz`;
 * - date_type 3: from the claim, with no end.
 */
export function codeValidity(card: ValidityRule, claimedAt: Date, tz: string): Validity {
  if (card.date_type === DateType.FIXED) {
    return { begin: new Date((card.begin_time ?? 0) * 1000), end: card.end_time === null ? null : endOfSecond(card.end_time) };
  }
  if (card.date_type === DateType.RELATIVE) {
    const first = DateTime.fromJSDate(claimedAt, { zone: tz })
      .startOf('day')
      .plus({ days: card.start_day_count ?? 0 });
    const afterLast = first.plus({ days: card.expire_day_count ?? 1 });
    return { begin: first.toJSDate(), end: new Date(afterLast.toMillis() - 1) };
  }
  return { begin: claimedAt, end: null };
}

export type ClaimRefusal = 'not_started' | 'ended';

/** A date_type 1 card is claimable within its range only; the others always. */
export function claimRefusal(card: Pick<ValidityRule, 'date_type' | 'begin_time' | 'end_time'>, now: Date): ClaimRefusal | null {
  if (card.date_type !== DateType.FIXED) return null;
  const t = Math.floor(now.getTime() / 1000); // within the second of end_time is still within the range
  if (card.begin_time !== null && t < card.begin_time) return 'not_started';
  if (card.end_time !== null && t > card.end_time) return 'ended';
  return null;
}

/** The card fields that restrict when in a week, a month and a day a code is usable. */
export interface UsageRule {
  weekdays: string | null;
  monthdays: string | null;
  day_begin_time: number | null;
  day_end_time: number | null;
}

export type UnusableReason = 'not_yet_valid' | 'expired' | 'weekday' | 'monthday' | 'time_of_day';

const days = (list: string | null): number[] | null => (list && list.trim() ? parseDayList(list) : null);

/**
 * Why a code valid over `validity` cannot be used at `now` in zone `tz`, or null when it
 * can. weekdays: 0 = Sunday .. 6; monthdays 1..31; day_begin_time..day_end_time are
 * seconds since the local midnight, both ends included.
 */
export function unusableAt(card: UsageRule, validity: Validity, now: Date, tz: string): { reason: UnusableReason; message: string } | null {
  if (now < validity.begin) return { reason: 'not_yet_valid', message: 'is not valid yet' };
  if (validity.end && now > validity.end) return { reason: 'expired', message: 'has expired' };
  const local = DateTime.fromJSDate(now, { zone: tz });
  const weekdays = days(card.weekdays);
  if (weekdays && !weekdays.includes(local.weekday % 7))
    return { reason: 'weekday', message: `is not usable on this day of the week (weekdays ${card.weekdays})` };
  const monthdays = days(card.monthdays);
  if (monthdays && !monthdays.includes(local.day))
    return { reason: 'monthday', message: `is not usable on this day of the month (monthdays ${card.monthdays})` };
  const second = local.hour * 3600 + local.minute * 60 + local.second;
  const from = card.day_begin_time ?? 0;
  const to = card.day_end_time ?? SECONDS_PER_DAY - 1;
  if (second < from || second > to) return { reason: 'time_of_day', message: `is usable only between ${clock(from)} and ${clock(to)}` };
  return null;
}

const clock = (s: number) => [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60].map((n) => String(n).padStart(2, '0')).join(':');

/** A status in words, for messages. */
export const STATUS_WORD: Record<number, string> = {
  [CodeStatus.USABLE]: 'usable',
  [CodeStatus.GIFTING]: 'being gifted',
  [CodeStatus.REDEEMED]: 'redeemed',
  [CodeStatus.EXPIRED]: 'expired',
  [CodeStatus.VOID]: 'void',
  [CodeStatus.GIVEN]: 'given away',
  [CodeStatus.REVERSED]: 'reversed',
};
