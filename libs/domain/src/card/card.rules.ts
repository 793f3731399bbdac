import { Violation } from '../envelope';

/** Card types of the spec: 0 cash voucher, 1 discount, 2 exchange, 3 free shipping, 4 gift. */
export const CardType = { CASH: 0, DISCOUNT: 1, EXCHANGE: 2, FREE_SHIPPING: 3, GIFT: 4 } as const;
/** 1 fixed range (begin_time..end_time), 2 relative to the claim day, 3 never expires. */
export const DateType = { FIXED: 1, RELATIVE: 2, PERMANENT: 3 } as const;
/** 1 codes made by the system, 2 codes imported by the merchant. */
export const GenerateType = { SYSTEM: 1, IMPORT: 2 } as const;
export const CostType = { FIXED: 1, PERCENT: 2 } as const;

export const SECONDS_PER_DAY = 86400;

/** The fields the cross-field rules look at; every one may be missing. */
export interface CardRuleInput {
  card_type?: number;
  cash_amount?: number | null;
  discount?: number | null;
  date_type?: number;
  begin_time?: number | null;
  end_time?: number | null;
  start_day_count?: number | null;
  expire_day_count?: number | null;
  weekdays?: string | null;
  monthdays?: string | null;
  day_begin_time?: number | null;
  day_end_time?: number | null;
  cost_type?: number | null;
  cost_value?: number | null;
  generate_type?: number;
  generate_file?: string | null;
  total_quantity?: number;
}

type Rule = (c: CardRuleInput) => Violation | null;

const present = (v: unknown): boolean => v !== undefined && v !== null;

/** Parses "0,1,6" into numbers; null when an item is not a whole number. */
export function parseDayList(text: string): number[] | null {
  const items = text.split(',').map((s) => s.trim());
  if (items.some((s) => !/^\d{1,2}$/.test(s))) return null;
  return items.map(Number);
}

function dayListRule(field: 'weekdays' | 'monthdays', min: number, max: number, label: string): Rule {
  return (c) => {
    const text = c[field];
    if (!present(text) || text === '') return null;
    const days = parseDayList(text as string);
    if (!days || days.some((d) => d < min || d > max)) {
      return { field, message: `${field} must be a comma-separated list of ${label} from ${min} to ${max}` };
    }
    if (new Set(days).size !== days.length) return { field, message: `${field} lists a day twice` };
    return null;
  };
}

/** Each rule names the field it is about. */
export const CARD_RULES: Rule[] = [
  (c) =>
    c.card_type === CardType.CASH && !(typeof c.cash_amount === 'number' && c.cash_amount > 0)
      ? { field: 'cash_amount', message: 'cash_amount must be greater than 0 for a cash voucher (card_type 0)' }
      : null,
  (c) =>
    c.card_type === CardType.DISCOUNT && !(typeof c.discount === 'number' && c.discount > 0 && c.discount < 1)
      ? { field: 'discount', message: 'discount must be between 0 and 1 exclusive for a discount card (card_type 1), e.g. 0.8' }
      : null,
  (c) => {
    if (c.date_type !== DateType.FIXED) return null;
    if (!present(c.begin_time)) return { field: 'begin_time', message: 'begin_time is required when date_type is 1' };
    if (!present(c.end_time)) return { field: 'end_time', message: 'end_time is required when date_type is 1' };
    return (c.begin_time as number) < (c.end_time as number) ? null : { field: 'end_time', message: 'end_time must be after begin_time' };
  },
  (c) =>
    c.date_type === DateType.RELATIVE && !present(c.start_day_count)
      ? { field: 'start_day_count', message: 'start_day_count is required when date_type is 2' }
      : null,
  (c) => {
    if (c.date_type !== DateType.RELATIVE) return null;
    if (!present(c.expire_day_count)) return { field: 'expire_day_count', message: 'expire_day_count is required when date_type is 2' };
    return (c.expire_day_count as number) >= 1 ? null : { field: 'expire_day_count', message: 'expire_day_count must be at least 1' };
  },
  dayListRule('weekdays', 0, 6, 'weekdays (0 = Sunday)'),
  dayListRule('monthdays', 1, 31, 'days of the month'),
  (c) =>
    present(c.day_begin_time) && present(c.day_end_time) && (c.day_begin_time as number) > (c.day_end_time as number)
      ? { field: 'day_end_time', message: 'day_end_time must not be before day_begin_time' }
      : null,
  (c) =>
    c.cost_type === CostType.PERCENT && present(c.cost_value) && (c.cost_value as number) > 100
      ? { field: 'cost_value', message: 'cost_value is a percentage when cost_type is 2: at most 100' }
      : null,
  (c) =>
    c.generate_type === GenerateType.IMPORT && (c.total_quantity ?? 0) > 0 && !present(c.generate_file)
      ? {
          field: 'generate_file',
          message: 'generate_file is required when generate_type is 2 and total_quantity > 0 (or create with total_quantity 0 and use import_codes)',
        }
      : null,
];

export function cardRuleViolations(c: CardRuleInput): Violation[] {
  return CARD_RULES.map((rule) => rule(c)).filter((v): v is Violation => v !== null);
}
