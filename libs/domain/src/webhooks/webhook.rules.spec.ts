import { isDelivered, retryDelayMs, shouldDisable, WEBHOOK_MAX_ATTEMPTS } from './webhook.rules';

describe('webhook rules', () => {
  it.each([
    [1, 5_000],
    [2, 300_000],
    [3, 1_800_000],
    [4, 7_200_000],
    [5, 18_000_000],
    [6, 36_000_000],
    [7, 36_000_000],
    [8, null],
    [9, null],
  ])('after attempt %i waits %p ms', (attempts, delay) => {
    expect(retryDelayMs(attempts)).toBe(delay);
  });

  it('spreads 8 attempts over about a day', () => {
    let total = 0;
    for (let a = 1; a < WEBHOOK_MAX_ATTEMPTS; a++) total += retryDelayMs(a)!;
    expect(WEBHOOK_MAX_ATTEMPTS).toBe(8);
    expect(total / 3_600_000).toBeCloseTo(27.59, 1);
  });

  it.each([0, -1, 1.5])('refuses attempts %p', (a) => {
    expect(() => retryDelayMs(a)).toThrow(RangeError);
  });

  const t = (h: number) => new Date(Date.UTC(2026, 11, 1, h));
  it.each([
    ['failing since before the delivery began', t(1), t(2), true],
    ['failing since the delivery began', t(2), t(2), true],
    ['a success after the delivery began', t(3), t(2), false],
    ['the last attempt succeeded', null, t(2), false],
  ])('%s: disable %p', (_what, since, first, expected) => {
    expect(shouldDisable(since, first)).toBe(expected);
  });

  it.each([
    [200, true],
    [204, true],
    [299, true],
    [301, false],
    [400, false],
    [500, false],
    [null, false],
  ])('HTTP %p delivered: %p', (status, expected) => {
    expect(isDelivered(status)).toBe(expected);
  });
});
