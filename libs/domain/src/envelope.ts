import { ErrorCode } from './errors';

/** One field that failed validation, named as the caller spelled it. */
export interface Violation {
  field: string;
  message: string;
}

/** Every answer, over HTTP and over the transport: `{ code, msg, data }`. */
export interface Envelope<T = unknown> {
  code: number;
  msg: string;
  data?: T;
  errors?: Violation[];
}

export function ok<T>(data: T, msg = 'ok'): Envelope<T> {
  return data === undefined ? { code: ErrorCode.OK, msg } : { code: ErrorCode.OK, msg, data };
}

export function fail(code: ErrorCode, msg: string, errors?: Violation[]): Envelope<never> {
  return errors && errors.length ? { code, msg, errors } : { code, msg };
}

export function invalid(errors: Violation[]): Envelope<never> {
  const msg = errors.map((e) => `${e.field}: ${e.message}`).join('; ');
  return fail(ErrorCode.VALIDATION, msg, errors);
}

export function isEnvelope(x: unknown): x is Envelope {
  return typeof x === 'object' && x !== null && typeof (x as Envelope).code === 'number' && typeof (x as Envelope).msg === 'string';
}

/**
 * A contract class may implement this to check rules that span several fields; the
 * validation step at every process boundary calls it after the per-field checks pass.
 */
export interface CrossFieldRules {
  ruleViolations(): Violation[];
}

export function hasCrossFieldRules(x: unknown): x is CrossFieldRules {
  return typeof x === 'object' && x !== null && typeof (x as CrossFieldRules).ruleViolations === 'function';
}
