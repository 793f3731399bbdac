import { IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { CardFactsMsg } from '../contracts/card-events';
import { ForTenant } from '../validation';

/** Facts one `card.event_facts` page holds at most, and when the caller names no limit. */
export const MAX_FACTS_PAGE = 10_000;
export const DEFAULT_FACTS_PAGE = 5_000;

/** A cursor is base64url text (card-service decodes it; anything else is refused here already). */
const CURSOR_TEXT = /^[A-Za-z0-9_-]{1,1024}$/;

/** A page of a tenant's card facts (internal: the dashboard's rebuild asks it; not on the gateway). */
export class CardFactsDto {
  /** The previous page's cursor; absent for the first page. */
  @IsOptional()
  @IsString()
  @Matches(CURSOR_TEXT, { message: 'cursor must be a cursor answered by card.event_facts' })
  cursor?: string;

  /** Facts per page, 1 to 10,000; 5,000 when absent. */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_FACTS_PAGE)
  limit?: number;
}

export class CardFactsRequest extends ForTenant(CardFactsDto) implements CardFactsMsg {}
