/** Codes made by the system: 19 digits, like the spec's `1428237280476135432`. */
export const SYSTEM_CODE_DIGITS = 19;
const LOW = 10n ** 18n;
const SPAN = 9n * 10n ** 18n;

/**
 * Turns random bytes (8 per code, from a cryptographic source) into numeric codes of
 * 19 digits with no leading zero. The modulo bias over 2^64 is below 2^-1 per mille of
 * the space and does not make a code guessable.
 */
export function numericCodesFromBytes(bytes: Buffer, count: number): string[] {
  if (bytes.length < count * 8) throw new RangeError(`need ${count * 8} random bytes, got ${bytes.length}`);
  const codes = new Array<string>(count);
  for (let i = 0; i < count; i++) {
    codes[i] = (LOW + (bytes.readBigUInt64LE(i * 8) % SPAN)).toString();
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

export function mergeRejects(
  a: Partial<Record<RejectReason, number>>,
  b: Partial<Record<RejectReason, number>>,
): Partial<Record<RejectReason, number>> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b) as Array<[RejectReason, number]>) out[k] = (out[k] ?? 0) + v;
  return out;
}

export function totalRejected(r: Partial<Record<RejectReason, number>>): number {
  return Object.values(r).reduce((s, v) => s + (v ?? 0), 0);
}
