import { randomBytes } from 'node:crypto';
import {
  addRejects,
  codeFromLine,
  mergeRejects,
  numericCodes,
  RejectReason,
  screenCodes,
  ScreenedCodes,
  SYSTEM_CODE_DIGITS,
  totalRejected,
} from './code.rules';

/** The 8 little-endian bytes of each number, as the function reads them. */
function bytesOf(...values: bigint[]): Buffer {
  const buf = Buffer.alloc(values.length * 8);
  values.forEach((v, i) => buf.writeBigUInt64LE(v, i * 8));
  return buf;
}

/** A random source that hands out the given buffers in turn. */
function replay(...chunks: Buffer[]): ((size: number) => Buffer) & { sizes: number[] } {
  const sizes: number[] = [];
  const source = (size: number) => {
    sizes.push(size);
    return chunks.shift() ?? Buffer.alloc(0);
  };
  return Object.assign(source, { sizes });
}

describe('numericCodes', () => {
  it.each<[string, bigint, string]>([
    ['0 gives the smallest code', 0n, '1000000000000000000'],
    ['1', 1n, '1000000000000000001'],
    ['9e18 - 1 gives the largest code', 9n * 10n ** 18n - 1n, '9999999999999999999'],
    ['9e18 wraps to the smallest code', 9n * 10n ** 18n, '1000000000000000000'],
    ['1.8e19 - 1, the last accepted draw', 18n * 10n ** 18n - 1n, '9999999999999999999'],
    ['1234567890123456789', 1234567890123456789n, '2234567890123456789'],
  ])('%s -> %s', (_name, value, code) => {
    expect(numericCodes(1, replay(bytesOf(value)))).toEqual([code]);
  });

  it('reads 8 bytes per code, in order', () => {
    expect(numericCodes(2, replay(bytesOf(2n, 3n)))).toEqual(['1000000000000000002', '1000000000000000003']);
  });

  it('draws again for values at or above 1.8e19, so low codes are not favoured', () => {
    const source = replay(bytesOf(5n, 18n * 10n ** 18n, 2n ** 64n - 1n, 6n), bytesOf(7n, 2n ** 64n - 1n), bytesOf(8n));
    expect(numericCodes(4, source)).toEqual(['1000000000000000005', '1000000000000000006', '1000000000000000007', '1000000000000000008']);
    expect(source.sizes).toEqual([32, 16, 8]);
  });

  it('gives 19 digits with no leading zero, the same codes for the same bytes', () => {
    const bytes = randomBytes(8 * 1000);
    const codes = numericCodes(1000, (size) => bytes.subarray(0, size));
    expect(SYSTEM_CODE_DIGITS).toBe(19);
    expect(codes).toHaveLength(1000);
    expect(codes.filter((c) => !/^[1-9]\d{18}$/.test(c))).toEqual([]);
    expect(numericCodes(1000, (size) => Buffer.from(bytes.subarray(0, size)))).toEqual(codes);
  });

  it('gives no codes for a count of 0, without asking for bytes', () => {
    const source = replay();
    expect(numericCodes(0, source)).toEqual([]);
    expect(source.sizes).toEqual([]);
  });

  it('refuses a source that gives fewer bytes than asked', () => {
    expect(() => numericCodes(2, replay(Buffer.alloc(15)))).toThrow(new RangeError('need 16 random bytes, got 15'));
  });

  it('gives 100,000 distinct codes from crypto-random bytes, spread over the whole range', () => {
    const codes = numericCodes(100_000, randomBytes);
    expect(new Set(codes).size).toBe(100_000);
    // Uniform: each first digit 1-9 about 1/9 of the codes (the biased version gave "1" 1.5 times its share).
    const ones = codes.filter((c) => c[0] === '1').length / codes.length;
    expect(ones).toBeGreaterThan(0.1);
    expect(ones).toBeLessThan(0.123);
  });
});

describe('codeFromLine', () => {
  it.each<[string, string | null]>([
    ['A1B2C3D4', 'A1B2C3D4'],
    ['A1B2C3D4,2022-06-01,note', 'A1B2C3D4'],
    ['  A1B2C3D4  ,x', 'A1B2C3D4'],
    ['"A1B2C3D4"', 'A1B2C3D4'],
    ['"A1B2C3D4",x', 'A1B2C3D4'],
    ['" A1B2C3D4 "', 'A1B2C3D4'],
    ['A1B2C3D4\r', 'A1B2C3D4'],
    ['"A1B2C3D4"\r', 'A1B2C3D4'],
    ['A1B2C3D4,x\r', 'A1B2C3D4'],
    ['\tA1B2C3D4\t', 'A1B2C3D4'],
    ['\uFEFFA1B2C3D4', 'A1B2C3D4'],
    ['', null],
    ['   ', null],
    ['\r', null],
    ['""', null],
    ['" "', null],
    [',A1B2C3D4', null],
    ['"', '"'],
    ['"A1B2', '"A1B2'],
  ])('%j -> %j', (line, code) => {
    expect(codeFromLine(line)).toBe(code);
  });
});

describe('screenCodes', () => {
  it.each<[string, string[], string[], ScreenedCodes['rejected']]>([
    ['all good, order kept', ['CODE3', 'CODE1', 'CODE2'], ['CODE3', 'CODE1', 'CODE2'], {}],
    ['trimmed', ['  CODE1 ', 'CODE2\r'], ['CODE1', 'CODE2'], {}],
    ['shortest and longest', ['abcd', 'x'.repeat(64)], ['abcd', 'x'.repeat(64)], {}],
    ['letters, digits, - and _', ['a-B_9'], ['a-B_9'], {}],
    ['too short', ['abc', 'abcd'], ['abcd'], { invalid_format: 1 }],
    ['too long', ['x'.repeat(65), 'abcd'], ['abcd'], { invalid_format: 1 }],
    ['bad characters', ['ab cd', 'ab.cd', 'ab,cd', '券码1234', 'abcd'], ['abcd'], { invalid_format: 4 }],
    ['empty', ['', '   '], [], { invalid_format: 2 }],
    ['repeated in the batch', ['CODE1', 'CODE2', 'CODE1', 'CODE1'], ['CODE1', 'CODE2'], { duplicate_in_import: 2 }],
    ['repeated once trimmed', ['CODE1', ' CODE1'], ['CODE1'], { duplicate_in_import: 1 }],
    ['case matters', ['code1', 'CODE1'], ['code1', 'CODE1'], {}],
    ['both kinds', ['bad!', 'CODE1', 'bad!', 'CODE1'], ['CODE1'], { invalid_format: 2, duplicate_in_import: 1 }],
    ['nothing', [], [], {}],
  ])('%s', (_name, codes, candidates, rejected) => {
    const out = screenCodes(codes);
    expect(out.candidates).toEqual(candidates);
    expect(out.rejected).toEqual(rejected);
    expect(out.samples).toHaveLength(totalRejected(rejected));
  });

  it('samples each rejected code with its reason, in order', () => {
    expect(screenCodes(['CODE1', 'x', 'CODE1', ' y ']).samples).toEqual([
      { code: 'x', reason: RejectReason.INVALID_FORMAT },
      { code: 'CODE1', reason: RejectReason.DUPLICATE_IN_IMPORT },
      { code: 'y', reason: RejectReason.INVALID_FORMAT },
    ]);
  });

  it('keeps at most 20 samples but counts every rejected code', () => {
    const codes = Array.from({ length: 50 }, (_, i) => `bad ${i}`);
    const out = screenCodes(codes);
    expect(out.rejected).toEqual({ invalid_format: 50 });
    expect(out.samples).toHaveLength(20);
    expect(out.samples.map((s) => s.code)).toEqual(codes.slice(0, 20));
  });

  it('cuts a long sample to 64 characters', () => {
    expect(screenCodes(['y'.repeat(256)]).samples).toEqual([{ code: 'y'.repeat(64), reason: 'invalid_format' }]);
  });
});

describe('addRejects', () => {
  it('counts and samples codes under a reason', () => {
    const into: Pick<ScreenedCodes, 'rejected' | 'samples'> = { rejected: {}, samples: [] };
    addRejects(into, RejectReason.ALREADY_EXISTS, ['CODE1', 'CODE2']);
    addRejects(into, RejectReason.ALREADY_EXISTS, ['CODE3']);
    addRejects(into, RejectReason.OVER_QUANTITY, ['CODE4']);
    expect(into).toEqual({
      rejected: { already_exists: 3, over_quantity: 1 },
      samples: [
        { code: 'CODE1', reason: 'already_exists' },
        { code: 'CODE2', reason: 'already_exists' },
        { code: 'CODE3', reason: 'already_exists' },
        { code: 'CODE4', reason: 'over_quantity' },
      ],
    });
  });

  it('adds nothing, not even a zero count, for no codes', () => {
    const into: Pick<ScreenedCodes, 'rejected' | 'samples'> = { rejected: {}, samples: [] };
    addRejects(into, RejectReason.OVER_QUANTITY, []);
    expect(into).toEqual({ rejected: {}, samples: [] });
  });

  it('stops sampling at 20 across reasons, still counting', () => {
    const into: Pick<ScreenedCodes, 'rejected' | 'samples'> = screenCodes(Array.from({ length: 15 }, (_, i) => `#${i}`));
    addRejects(
      into,
      RejectReason.ALREADY_EXISTS,
      Array.from({ length: 10 }, (_, i) => `CODE${i}`),
    );
    expect(into.rejected).toEqual({ invalid_format: 15, already_exists: 10 });
    expect(into.samples).toHaveLength(20);
    expect(into.samples.slice(15)).toEqual(['CODE0', 'CODE1', 'CODE2', 'CODE3', 'CODE4'].map((code) => ({ code, reason: 'already_exists' })));
  });
});

describe('mergeRejects and totalRejected', () => {
  it.each<[ScreenedCodes['rejected'], ScreenedCodes['rejected'], ScreenedCodes['rejected'], number]>([
    [{}, {}, {}, 0],
    [{ invalid_format: 2 }, {}, { invalid_format: 2 }, 2],
    [{}, { over_quantity: 3 }, { over_quantity: 3 }, 3],
    [
      { invalid_format: 2, already_exists: 1 },
      { invalid_format: 5, duplicate_in_import: 4 },
      { invalid_format: 7, already_exists: 1, duplicate_in_import: 4 },
      12,
    ],
  ])('%j + %j = %j, total %i', (a, b, merged, total) => {
    const before = { ...a };
    expect(mergeRejects(a, b)).toEqual(merged);
    expect(totalRejected(mergeRejects(a, b))).toBe(total);
    expect(a).toEqual(before);
  });

  it('totals every reason', () => {
    expect(totalRejected({ invalid_format: 1, duplicate_in_import: 2, already_exists: 3, over_quantity: 4 })).toBe(10);
  });
});
