import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import type { Caller } from './auth.service';

export const ACCESS = 'loyalty:access';

/**
 * Who may call a route besides the root key.
 * - `key-tenant`: any tenant key, client or admin, for the tenant the key belongs to (the
 *   route names no crm_id); the root key belongs to no tenant and is refused with a 400.
 */
export type Access = 'public' | 'root' | 'admin' | 'client' | 'key-tenant' | 'any-key';

/** No key needed (health, docs). */
export const Public = () => SetMetadata(ACCESS, 'public' satisfies Access);
/** Only the root key (issuing tenant keys). */
export const RootOnly = () => SetMetadata(ACCESS, 'root' satisfies Access);
/** Also open to `client` keys: the member routes a mini-program back end needs. */
export const ClientAllowed = () => SetMetadata(ACCESS, 'client' satisfies Access);
/** A route without crm_id in its path: it acts for the tenant of the key (client or admin). */
export const ForKeyTenant = () => SetMetadata(ACCESS, 'key-tenant' satisfies Access);
/** Any known key, root or tenant, client or admin: the handler decides with `CallerKey` (the console's session). */
export const AnyKey = () => SetMetadata(ACCESS, 'any-key' satisfies Access);

/** Where the guard leaves who called (for the access log): a fingerprint of the key, never the key, and its tenant. */
export const CALLER = Symbol('loyalty:caller');
export interface CallerTag {
  key_id: string;
  crm_id?: string;
}

/** Where the guard leaves the identified key (root, or a tenant key with its scope). */
export const CALLER_KEY = Symbol('loyalty:caller-key');

/** The key that called, as the guard identified it (only on routes that need a key). */
export const CallerKey = createParamDecorator((_: unknown, ctx: ExecutionContext): Caller => {
  const caller = ctx.switchToHttp().getRequest<Record<symbol, Caller | undefined>>()[CALLER_KEY];
  if (caller === undefined) throw new Error('CallerKey used on a public route');
  return caller;
});

/** Where the guard leaves the crm_id of the key on a `key-tenant` route. */
export const KEY_CRM_ID = Symbol('loyalty:key-crm-id');

/** The crm_id of the calling key, on a `key-tenant` route. */
export const KeyCrmId = createParamDecorator((_: unknown, ctx: ExecutionContext): string => {
  const req = ctx.switchToHttp().getRequest<Record<symbol, string | undefined>>();
  const crmId = req[KEY_CRM_ID];
  if (crmId === undefined) throw new Error('KeyCrmId used on a route not marked ForKeyTenant');
  return crmId;
});
