import { ArrayMaxSize, ArrayMinSize, IsArray, IsInt, IsOptional, IsString, IsUrl, Matches, Max, MaxLength, Min, MinLength } from 'class-validator';
import { CALLER_ID_PATTERN, ForTenant } from '../validation';
import { MAX_TOTAL_QUANTITY } from './card.dto';

export const MAX_IMPORT_CODES_PER_CALL = 10_000;
const GENERATE_ID_MESSAGE = 'generate_id must be 1-64 letters, digits, _ . : or -';

export class AddStockDto {
  /** @example "21008fdbabd30c04548a56be6eed016c" */
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  card_id: string;

  /** Codes to add. @example 8888 */
  @IsInt()
  @Min(1)
  @Max(MAX_TOTAL_QUANTITY)
  quantity: number;

  /** Idempotency id: the same id with the same payload returns the first answer. @example "orfhnsiwqfiwjoifw" */
  @IsOptional()
  @IsString()
  @Matches(CALLER_ID_PATTERN, { message: GENERATE_ID_MESSAGE })
  generate_id?: string;

  /**
   * Cards with imported codes (generate_type 2) only: an http(s) URL of a file of up to
   * `quantity` more codes (one a line, or the first CSV column), read by a stock job as at
   * create. @example "https://files.example.com/codes-2.csv"
   */
  @IsOptional()
  @IsUrl({ protocols: ['http', 'https'], require_protocol: true, require_tld: false }, { message: 'generate_file must be an http(s) URL' })
  @MaxLength(2048)
  generate_file?: string;
}

export class StockStatusQueryDto {
  /** @example "orfhnsiwqfiwjoifw" */
  @IsString()
  @Matches(CALLER_ID_PATTERN, { message: GENERATE_ID_MESSAGE })
  generate_id: string;
}

export class ImportCodesDto {
  /** @example "21008fdbabd30c04548a56be6eed016c" */
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  card_id: string;

  /** Idempotency id of this import. @example "import-2022-06-01" */
  @IsString()
  @Matches(CALLER_ID_PATTERN, { message: GENERATE_ID_MESSAGE })
  generate_id: string;

  /** Up to 10,000 codes; malformed or repeated ones are skipped and counted. @example ["A1B2C3D4", "A1B2C3D5"] */
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_IMPORT_CODES_PER_CALL)
  @IsString({ each: true })
  @MaxLength(256, { each: true })
  codes: string[];
}

export class AddStockMsg extends ForTenant(AddStockDto) {}
export class StockStatusMsg extends ForTenant(StockStatusQueryDto) {}
export class ImportCodesMsg extends ForTenant(ImportCodesDto) {}
