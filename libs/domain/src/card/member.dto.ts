import { IsIn, IsInt, IsObject, IsOptional, IsString, Matches, Max, MaxLength, Min, MinLength } from 'class-validator';
import { CrossFieldRules, Violation } from '../envelope';
import { CALLER_ID_PATTERN, ForTenant, ToNumber } from '../validation';
import { MAX_PAGE_SIZE } from './card.dto';
import { CODE_STATUSES } from './member.rules';

/** Cards one claim may ask for, and codes of one card. */
export const MAX_CARDS_PER_CLAIM = 20;
export const MAX_CODES_PER_CARD = 100;

const callerId = (field: string) => Matches(CALLER_ID_PATTERN, { message: `${field} must be 1-64 letters, digits, _ . : or -` });

class MemberDto {
  /** @example "32880aa593b144508484cb8bb8261041" */
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  member_no: string;
}

class MemberCodeDto extends MemberDto {
  /** @example "21008fdbabd30c04548a56be6eed016c" */
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  card_id: string;

  /** @example "1428236189155983361" */
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  card_code: string;
}

class PageDto {
  /** Page number, from 1. @example 1 */
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
}

export class ReceiveDto extends MemberDto implements CrossFieldRules {
  /** Idempotency id of this claim. @example "received_id11111111" */
  @IsString()
  @callerId('received_id')
  received_id: string;

  /** Channel the claim came from. @example "sim_data" */
  @IsString()
  @MinLength(1)
  @MaxLength(32)
  out_str: string;

  /** card_id -> how many codes of it (1-100); up to 20 cards, all given or none. @example {"21008fdbabd30c04548a56be6eed016c": 1} */
  @IsObject()
  card_info: Record<string, number>;

  ruleViolations(): Violation[] {
    const entries = Object.entries(this.card_info);
    if (!entries.length) return [{ field: 'card_info', message: 'card_info must name at least one card' }];
    if (entries.length > MAX_CARDS_PER_CLAIM) return [{ field: 'card_info', message: `card_info may name at most ${MAX_CARDS_PER_CLAIM} cards` }];
    const out: Violation[] = [];
    for (const [cardId, count] of entries) {
      const field = `card_info.${cardId}`;
      if (cardId.length > 64) out.push({ field: 'card_info', message: 'card_info keys are card ids of at most 64 characters' });
      else if (!Number.isInteger(count) || count < 1 || count > MAX_CODES_PER_CARD) {
        out.push({ field, message: `${field} must be a whole number from 1 to ${MAX_CODES_PER_CARD}` });
      }
    }
    return out;
  }
}

export class ReceivedIdDto {
  /** @example "received_id11111111" */
  @IsString()
  @callerId('received_id')
  received_id: string;
}

export class PresentDto extends MemberCodeDto {
  /** The spec spells it `presant_extra` in the request and `present_extra` in the record; both are read. */
  static readonly ALIASES = { present_extra: 'presant_extra' };

  /** Message to the friend. @example "分享好券" */
  @IsString()
  @MaxLength(1024)
  presant_extra: string;

  /** Idempotency id of this gift; made by the gateway when absent. The friend needs it for present_receive. @example "2d5e31832df143f4b01516b835ed6763" */
  @IsOptional()
  @IsString()
  @callerId('present_id')
  present_id?: string;
}

export class PresentReceiveDto extends MemberDto {
  /** @example "2d5e31832df143f4b01516b835ed6763" */
  @IsString()
  @callerId('present_id')
  present_id: string;
}

export class PresentIdDto {
  /** @example "2d5e31832df143f4b01516b835ed6763" */
  @IsString()
  @callerId('present_id')
  present_id: string;
}

export class PresentListQueryDto extends PageDto {
  /** Gifts this member made. @example "32880aa593b144508484cb8bb8261041" */
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  member_no?: string;

  /** 0: not accepted (yet), 1: accepted. @example 0 */
  @IsOptional()
  @ToNumber()
  @IsInt()
  @IsIn([0, 1])
  received?: number;
}

export class CardListQueryDto extends PageDto {
  /** @example "32880aa593b144508484cb8bb8261041" */
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  member_no: string;

  /** 1 usable, 2 being gifted, 3 redeemed, 4 expired, 5 void, 6 given away, 7 claim reversed; all but 7 when absent. @example 1 */
  @IsOptional()
  @ToNumber()
  @IsInt()
  @IsIn([...CODE_STATUSES])
  code_status?: number;
}

export class CardDetailQueryDto extends MemberCodeDto {
  /** The claim (or, for a gift received, the present_id); the member's current row of the code when absent. @example "received_id11111111" */
  @IsOptional()
  @IsString()
  @callerId('received_id')
  received_id?: string;
}

export class RedeemDto extends MemberCodeDto {
  /** @example "store_01" */
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  redeem_channel: string;

  /** Idempotency id of this redemption. @example "213rf2" */
  @IsString()
  @callerId('redeem_id')
  redeem_id: string;

  /** @example "已核销" */
  @IsString()
  @MaxLength(4096)
  redeem_extra: string;
}

export class RedeemIdDto {
  /** @example "213rf2" */
  @IsString()
  @callerId('redeem_id')
  redeem_id: string;
}

export class ObsoleteDto extends MemberCodeDto {
  /** Who voids it. @example "ops_zhang" */
  @IsString()
  @MinLength(1)
  @MaxLength(32)
  operator: string;
}

export class ReceiveMsg extends ForTenant(ReceiveDto) {}
export class ReceivedIdMsg extends ForTenant(ReceivedIdDto) {}
export class PresentMsg extends ForTenant(PresentDto) implements CrossFieldRules {
  /** The gateway mints a present_id when the caller gave none: the service always needs one. */
  ruleViolations(): Violation[] {
    return this.present_id === undefined ? [{ field: 'present_id', message: 'present_id must be a string' }] : [];
  }
}
export class PresentReceiveMsg extends ForTenant(PresentReceiveDto) {}
export class PresentIdMsg extends ForTenant(PresentIdDto) {}
export class PresentListMsg extends ForTenant(PresentListQueryDto) {}
export class CardListMsg extends ForTenant(CardListQueryDto) {}
export class CardDetailMsg extends ForTenant(CardDetailQueryDto) {}
export class RedeemMsg extends ForTenant(RedeemDto) {}
export class RedeemIdMsg extends ForTenant(RedeemIdDto) {}
export class ObsoleteMsg extends ForTenant(ObsoleteDto) {}
