import { IsIn, IsOptional, Matches } from 'class-validator';
import { CRM_ID_PATTERN } from '../validation';

export const KeyScope = { ADMIN: 'admin', CLIENT: 'client' } as const;
export type KeyScope = (typeof KeyScope)[keyof typeof KeyScope];

export class IssueKeyDto {
  /** `admin` may call every route of its tenant; `client` only the member routes a mini-program back end needs. @example "admin" */
  @IsIn(['admin', 'client'])
  scope: KeyScope;
}

/** The console's sign-in: which tenant the key acts for. */
export class ConsoleSessionQueryDto {
  /** The tenant to act for: required with the root key; with a tenant key, its own (or absent). @example "instance_id22222222" */
  @IsOptional()
  @Matches(CRM_ID_PATTERN, { message: 'crm_id must be 1-32 letters, digits, _ or -' })
  crm_id?: string;
}

/** What the console learns at sign-in: the key's scope, its tenant, and the tenant's day by the server's clock. */
export interface ConsoleSession {
  scope: 'root' | KeyScope;
  crm_id: string;
  /** The tenant's zone (APP_TZ): dashboard days are counted in it. */
  tz: string;
  /** Today in that zone, YYYY-MM-DD: the console's default ranges end here. */
  today: string;
}
