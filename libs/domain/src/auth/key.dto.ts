import { IsIn } from 'class-validator';

export const KeyScope = { ADMIN: 'admin', CLIENT: 'client' } as const;
export type KeyScope = (typeof KeyScope)[keyof typeof KeyScope];

export class IssueKeyDto {
  /** `admin` may call every route of its tenant; `client` only the member routes a mini-program back end needs. @example "admin" */
  @IsIn(['admin', 'client'])
  scope: KeyScope;
}
