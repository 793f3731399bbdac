import {
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateNested,
} from 'class-validator';
import { Type } from 'class-transformer';
import { CrossFieldRules, Violation } from '../envelope';
import { ForTenant, ToNumber } from '../validation';
import { cardRuleViolations } from './card.rules';
import { CARD_ID_PATTERN } from './card.ids';

/*
 * Over 300 lines on purpose: the card template contract of the coupon document (its
 * many fields, their aliases and cross-field rules) in one file; members' routes have
 * member.dto.ts, stock routes stock.dto.ts.
 */

export const MAX_TOTAL_QUANTITY = 10_000_000;
export const MAX_PAGE_SIZE = 100;
const MONEY = { maxDecimalPlaces: 2, allowNaN: false, allowInfinity: false };

export class CardExtraInfoDto {
  /** Background colour. @example "#1111111" */
  @IsOptional()
  @IsString()
  @MaxLength(32)
  bg_color?: string;

  /** "Use now" jump path. @example "/page/card/" */
  @IsOptional()
  @IsString()
  @MaxLength(256)
  jump_now_path?: string;

  /** Name of the custom bottom menu. @example "卡券" */
  @IsOptional()
  @IsString()
  @MaxLength(64)
  custom_menu_name?: string;

  /** Jump path of the custom bottom menu. @example "/page/custom/" */
  @IsOptional()
  @IsString()
  @MaxLength(256)
  menu_jump_path?: string;
}

/** A coupon template. Field names and meaning follow the spec's `t_card_info`. */
export class CreateCardDto implements CrossFieldRules {
  /** Other spellings the spec uses. */
  static readonly ALIASES = { dayend_time: 'day_end_time' };

  /** 0 cash voucher, 1 discount, 2 exchange, 3 free shipping, 4 gift. @example 1 */
  @IsInt()
  @IsIn([0, 1, 2, 3, 4])
  card_type: number;

  /** @example "满100减10" */
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  title: string;

  /** @example "618满100减10" */
  @IsString()
  @MaxLength(128)
  subtitle: string;

  /** 1 WeChat merchant coupon, 2 self-made coupon. @example 2 */
  @IsInt()
  @IsIn([1, 2])
  source: number;

  /** Where the card applies. @example "web" */
  @IsOptional()
  @IsString()
  @MaxLength(64)
  scene?: string;

  /** Short usage note, at most 15 characters. @example "适用说明" */
  @IsString()
  @MaxLength(15)
  notice: string;

  /** Terms of use, up to 64K. @example "使用须知" */
  @IsString()
  @MaxLength(65535)
  rule: string;

  /** 1 fixed range, 2 relative to the claim day, 3 never expires. @example 1 */
  @IsInt()
  @IsIn([1, 2, 3])
  date_type: number;

  /** Start of validity, Unix seconds (date_type 1). @example 1655481600 */
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(4102444800)
  begin_time?: number | null;

  /** End of validity, Unix seconds (date_type 1). @example 1655740799 */
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(4102444800)
  end_time?: number | null;

  /** Days after the claim day until the code becomes valid (date_type 2). @example 0 */
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(3650)
  start_day_count?: number | null;

  /** Days the code stays valid (date_type 2). @example 7 */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(3650)
  expire_day_count?: number | null;

  /** Weekdays the code may be used, 0 = Sunday. @example "0,1,6" */
  @IsOptional()
  @IsString()
  @MaxLength(64)
  weekdays?: string | null;

  /** Days of the month the code may be used. @example "1,11,18,28" */
  @IsOptional()
  @IsString()
  @MaxLength(128)
  monthdays?: string | null;

  /** Start of the usable time of day, seconds from midnight. @example 0 */
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(86399)
  day_begin_time?: number | null;

  /** End of the usable time of day, seconds from midnight (alias `dayend_time`). @example 86399 */
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(86399)
  day_end_time?: number | null;

  /** Number of codes to issue; generation runs in the background. @example 10000 */
  @IsInt()
  @Min(0)
  @Max(MAX_TOTAL_QUANTITY)
  total_quantity: number;

  /** Codes one member may claim, 0 = no limit. @example 0 */
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(32767)
  get_limit?: number;

  /** Codes one member may redeem, 0 = no limit. @example 0 */
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(32767)
  use_limit?: number;

  /** Whether a member may gift the code to a friend. @example true */
  @IsOptional()
  @IsBoolean()
  can_give_friend?: boolean;

  /** @example false */
  @IsOptional()
  @IsBoolean()
  use_with_other_offer?: boolean;

  /** @example false */
  @IsOptional()
  @IsBoolean()
  use_with_other_coupon?: boolean;

  /** Minimum number of items (buy M items). @example 0 */
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(32767)
  qty_condition?: number | null;

  /** 1 codes made by the system, 2 imported codes. @example 1 */
  @IsInt()
  @IsIn([1, 2])
  generate_type: number;

  /** http(s) URL of the code file (generate_type 2): one code per line, or the first CSV column. @example null */
  @IsOptional()
  @IsUrl({ protocols: ['http', 'https'], require_protocol: true, require_tld: false }, { message: 'generate_file must be an http(s) URL' })
  @MaxLength(2048)
  generate_file?: string | null;

  /** Cash voucher: amount off. @example 10 */
  @IsOptional()
  @IsNumber(MONEY)
  @Min(0)
  @Max(100_000_000)
  cash_amount?: number | null;

  /** Minimum order amount. @example 100 */
  @IsOptional()
  @IsNumber(MONEY)
  @Min(0)
  @Max(100_000_000)
  cash_condition?: number | null;

  /** Discount card: rate paid, 0.8 = 20% off. @example 0 */
  @IsOptional()
  @IsNumber({ maxDecimalPlaces: 4 })
  @Min(0)
  @Max(1)
  discount?: number | null;

  /** @example "aa/bb/cc.jpg" */
  @IsString()
  @MaxLength(128)
  icon: string;

  /** Store codes where the card applies. @example "store_01, store_02" */
  @IsOptional()
  @IsString()
  @MaxLength(65535)
  store_codes?: string | null;

  /** @example "NO12312513" */
  @IsOptional()
  @IsString()
  @MaxLength(64)
  cost_center?: string | null;

  /** 1 fixed amount, 2 percentage. @example 1 */
  @IsOptional()
  @IsInt()
  @IsIn([1, 2])
  cost_type?: number | null;

  /** Cost (>= 0); a percentage when cost_type is 2 (80 = 80%). @example 2 */
  @IsOptional()
  @IsNumber(MONEY)
  @Min(0)
  @Max(100_000_000)
  cost_value?: number | null;

  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => CardExtraInfoDto)
  extra_info?: CardExtraInfoDto | null;

  ruleViolations(): Violation[] {
    return cardRuleViolations(this);
  }
}

export class CardIdQueryDto {
  /** @example "21008fdbabd30c04548a56be6eed016c" */
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  card_id: string;
}

export class RemoveCardDto extends CardIdQueryDto {}

export class ListCardsQueryDto {
  /** Page number, from 1. @example 1 */
  @IsOptional()
  @ToNumber()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  page_id?: number;

  /** At most 100. @example 10 */
  @IsOptional()
  @ToNumber()
  @IsInt()
  @Min(1)
  @Max(MAX_PAGE_SIZE)
  page_size?: number;

  /** @example 0 */
  @IsOptional()
  @ToNumber()
  @IsInt()
  @IsIn([0, 1, 2, 3, 4])
  card_type?: number;

  /** @example 1 */
  @IsOptional()
  @ToNumber()
  @IsInt()
  @IsIn([1, 2])
  source?: number;

  /** @example "web" */
  @IsOptional()
  @IsString()
  @MaxLength(64)
  scene?: string;
}

export class CreateCardMsg extends ForTenant(CreateCardDto) {
  /** Minted by the gateway (see card.ids.ts); made by the service when absent. */
  @IsOptional()
  @Matches(CARD_ID_PATTERN, { message: 'card_id must be 32 lowercase hex characters' })
  card_id?: string;
}
export class CardIdMsg extends ForTenant(CardIdQueryDto) {}
export class ListCardsMsg extends ForTenant(ListCardsQueryDto) {}
