import { IsString, Matches } from 'class-validator';
import { Transform } from 'class-transformer';

/** Tenant ids: what the spec shows (`instance_id22222222`), at most 32 characters. */
export const CRM_ID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
/** Caller-chosen ids used for idempotency (`generate_id`, `received_id`, ...). */
export const CALLER_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

type Ctor<T = object> = new (...args: any[]) => T;

/**
 * The service side of a contract: the same fields as the HTTP body or query, plus the
 * tenant the gateway took from the path. Both processes validate with these classes.
 */
export function ForTenant<TBase extends Ctor>(Base: TBase) {
  class TenantScoped extends Base {
    @IsString()
    @Matches(CRM_ID_PATTERN, { message: 'crm_id must be 1-32 letters, digits, _ or -' })
    crm_id!: string;
  }
  return TenantScoped;
}

const DECIMAL_TEXT = /^-?\d+(\.\d+)?$/;

/** Query strings arrive as text: turn plain decimal numbers into numbers, leave the rest (`0x10`, `1e2`, ` 5`) for the checks to reject. */
export const ToNumber = () => Transform(({ value }) => (typeof value === 'string' && DECIMAL_TEXT.test(value) ? Number(value) : value));

/** `true`/`false`/`1`/`0` in a query string. */
export const ToBoolean = () =>
  Transform(({ value }) => {
    if (value === 'true' || value === '1') return true;
    if (value === 'false' || value === '0') return false;
    return value;
  });
