import { ArgumentMetadata, Injectable, PipeTransform } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validate, ValidationError } from 'class-validator';
import { Envelope, hasCrossFieldRules, invalid, Violation } from '@app/domain';

export type ContractResult<T> = { ok: true; value: T } | { ok: false; violations: Violation[] };

/**
 * One violation per field: the first check, in the order the contract declares them,
 * that failed. class-validator runs a field's checks from the last declared to the first
 * and records the failures in that order, so that is the last one recorded (a missing
 * title is "title must be a string", not a complaint about its length).
 */
function flatten(errors: ValidationError[], prefix = ''): Violation[] {
  const out: Violation[] = [];
  for (const e of errors) {
    const field = prefix ? `${prefix}.${e.property}` : e.property;
    // Nested validation is recorded after the field's own checks; it speaks only when they passed.
    const recorded = Object.entries(e.constraints ?? {});
    const own = recorded.filter(([check]) => check !== 'nestedValidation');
    const message = (own.length ? own : recorded).pop()?.[1];
    if (message !== undefined) {
      out.push({ field, message: message.startsWith(e.property) ? message.replace(e.property, field) : `${field}: ${message}` });
    }
    if (e.children?.length) out.push(...flatten(e.children, field));
  }
  return out;
}

/**
 * The spec spells some fields two ways (`dayend_time`, `presant_extra`). A contract lists
 * them as `static readonly ALIASES = { alias: 'canonical' }`; the alias fills the
 * canonical field when that one is absent.
 */
function withAliases(cls: unknown, plain: Record<string, unknown>): Record<string, unknown> {
  const aliases = (cls as { ALIASES?: Record<string, string> }).ALIASES;
  if (!aliases) return plain;
  const out = { ...plain };
  for (const [alias, canonical] of Object.entries(aliases)) {
    if (out[canonical] === undefined && out[alias] !== undefined) out[canonical] = out[alias];
  }
  return out;
}

/** Deeper than any contract goes; deeper input is refused before anything walks it recursively. */
const MAX_DEPTH = 16;

/**
 * What no contract accepts and PostgreSQL would fail on, or a transform would choke on:
 * text with a NUL character, nesting beyond MAX_DEPTH.
 */
function unsafeInput(value: unknown, field: string, depth = 0): Violation | null {
  if (typeof value === 'string') return value.includes('\u0000') ? { field, message: `${field} must not contain the NUL character` } : null;
  if (typeof value !== 'object' || value === null) return null;
  if (depth >= MAX_DEPTH) return { field: 'body', message: `body is nested deeper than ${MAX_DEPTH} levels` };
  for (const [key, item] of Object.entries(value)) {
    const found = unsafeInput(item, field ? `${field}.${key}` : key, depth + 1);
    if (found) return found;
  }
  return null;
}

/** Validates plain input against a contract class: per-field checks, then its cross-field rules. */
export async function checkContract<T extends object>(cls: new () => T, plain: unknown): Promise<ContractResult<T>> {
  if (typeof plain !== 'object' || plain === null || Array.isArray(plain)) {
    return { ok: false, violations: [{ field: 'body', message: 'body must be a JSON object' }] };
  }
  const unsafe = unsafeInput(plain, '');
  if (unsafe) return { ok: false, violations: [unsafe] };
  const value = plainToInstance(cls, withAliases(cls, plain as Record<string, unknown>));
  const errors = await validate(value, {
    whitelist: true,
    forbidUnknownValues: false,
    validationError: { target: false },
  });
  if (errors.length) return { ok: false, violations: flatten(errors) };
  if (hasCrossFieldRules(value)) {
    const violations = value.ruleViolations();
    if (violations.length) return { ok: false, violations };
  }
  return { ok: true, value };
}

/**
 * The one validation step at every process boundary. The gateway and the services use
 * it with the same contract classes; each decides how an invalid input is thrown.
 */
@Injectable()
export class ContractPipe implements PipeTransform {
  constructor(private readonly reject: (envelope: Envelope<never>) => Error) {}

  async transform(value: unknown, meta: ArgumentMetadata): Promise<unknown> {
    const cls = meta.metatype as (new () => object) | undefined;
    if (!cls || [String, Number, Boolean, Object, Array].includes(cls as never) || meta.type === 'custom') return value;
    const result = await checkContract(cls, value ?? {});
    if (!result.ok) throw this.reject(invalid(result.violations));
    return result.value;
  }
}
