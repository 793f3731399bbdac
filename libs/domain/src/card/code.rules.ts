/** Codes made by the system: 19 digits, like the spec's `1428237280476135432`. */
export const SYSTEM_CODE_DIGITS = 19;
const LOW = 10n ** 18n;
const SPAN = 9n * 10n ** 18n;
/** The largest multiple of SPAN below 2^64: a draw at or above it is drawn again, so every code is equally likely. */
const LIMIT = 2n * SPAN;

/** A source of cryptographically random bytes, e.g. `crypto.randomBytes`. */
export type RandomSource = (size: number) => Buffer;

/**
 * Numeric codes of 19 digits with no leading zero, uniform over all 9 * 10^18 of them:
 * 8 random bytes a code, reduced modulo the span after rejecting the few draws (2.4%)
 * that would make the low codes more likely.
 */
export function numericCodes(count: number, random: RandomSource): string[] {
  const codes: string[] = [];
  while (codes.length < count) {
    const want = count - codes.length;
    const bytes = random(want * 8);
    if (bytes.length < want * 8) throw new RangeError(`need ${want * 8} random bytes, got ${bytes.length}`);
    for (let i = 0; i < want; i++) {
      const draw = bytes.readBigUInt64LE(i * 8);
      if (draw < LIMIT) codes.push((LOW + (draw % SPAN)).toString());
    }
  }
  return codes;
}

/** Imported codes: 4 to 64 letters, digits, `-` or `_`. */
export const IMPORTED_CODE_PATTERN = /^[A-Za-z0-9_-]{4,64}$/;

export const RejectReason = {
  INVALID_FORMAT: 'invalid_format',
  DUPLICATE_IN_IMPORT: 'duplicate_in_import',
  ALREADY_EXISTS: 'already_exists',
  OVER_QUANTITY: 'over_quantity',
} as const;
export type RejectReason = (typeof RejectReason)[keyof typeof RejectReason];

/** One line of an import file: the code is the first CSV column, quotes and blanks stripped. Blank lines give null. */
export function codeFromLine(line: string): string | null {
  let first = line.split(',', 1)[0].trim();
  if (first.length >= 2 && first.startsWith('"') && first.endsWith('"')) first = first.slice(1, -1).trim();
  return first === '' ? null : first;
}

export interface ScreenedCodes {
  /** Well-formed codes, each once, in the order they came. */
  candidates: string[];
  rejected: Partial<Record<RejectReason, number>>;
  samples: Array<{ code: string; reason: RejectReason }>;
}

const MAX_SAMPLES = 20;

/** First pass over a batch, before the database is asked: format and repeats within the batch. */
export function screenCodes(codes: string[]): ScreenedCodes {
  const seen = new Set<string>();
  const out: ScreenedCodes = { candidates: [], rejected: {}, samples: [] };
  for (const raw of codes) {
    const code = raw.trim();
    let reason: RejectReason | null = null;
    if (!IMPORTED_CODE_PATTERN.test(code)) reason = RejectReason.INVALID_FORMAT;
    else if (seen.has(code)) reason = RejectReason.DUPLICATE_IN_IMPORT;
    if (reason) {
      addRejects(out, reason, [code]);
    } else {
      seen.add(code);
      out.candidates.push(code);
    }
  }
  return out;
}

export function addRejects(into: Pick<ScreenedCodes, 'rejected' | 'samples'>, reason: RejectReason, codes: string[]): void {
  if (!codes.length) return;
  into.rejected[reason] = (into.rejected[reason] ?? 0) + codes.length;
  for (const code of codes) {
    if (into.samples.length >= MAX_SAMPLES) break;
    into.samples.push({ code: code.slice(0, 64), reason });
  }
}

export function mergeRejects(a: Partial<Record<RejectReason, number>>, b: Partial<Record<RejectReason, number>>): Partial<Record<RejectReason, number>> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b) as Array<[RejectReason, number]>) out[k] = (out[k] ?? 0) + v;
  return out;
}

export function totalRejected(r: Partial<Record<RejectReason, number>>): number {
  return Object.values(r).reduce((s, v) => s + (v ?? 0), 0);
}
