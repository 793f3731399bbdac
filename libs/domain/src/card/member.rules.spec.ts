import { claimRefusal, codeValidity, UnusableReason, unusableAt, UsageRule, ValidityRule } from './member.rules';

const TZ = 'Asia/Shanghai';
/** A UTC instant from a Shanghai wall-clock time (UTC+8, no daylight saving). */
const sh = (local: string) => new Date(`${local.replace(' ', 'T')}+08:00`);
const unix = (local: string) => sh(local).getTime() / 1000;

const rule = (over: Partial<ValidityRule>): ValidityRule => ({
  date_type: 3,
  begin_time: null,
  end_time: null,
  start_day_count: null,
  expire_day_count: null,
  ...over,
});

describe('codeValidity', () => {
  it.each<[string, Partial<ValidityRule>, string, string, string | null]>([
    [
      "fixed range: the card's range",
      { date_type: 1, begin_time: unix('2021-08-08 00:00:00'), end_time: unix('2021-09-10 23:59:59') },
      '2021-08-20 12:25:25',
      '2021-08-08 00:00:00',
      '2021-09-10 23:59:59',
    ],
    [
      'relative, from the next day for 7 days',
      { date_type: 2, start_day_count: 1, expire_day_count: 7 },
      '2021-08-19 15:42:19',
      '2021-08-20 00:00:00',
      '2021-08-26 23:59:59',
    ],
    [
      'relative, from the claim day for 1 day',
      { date_type: 2, start_day_count: 0, expire_day_count: 1 },
      '2021-08-19 23:59:59',
      '2021-08-19 00:00:00',
      '2021-08-19 23:59:59',
    ],
    [
      'relative, the claim day is the Shanghai day (UTC is still the day before)',
      { date_type: 2, start_day_count: 0, expire_day_count: 1 },
      '2021-08-20 00:30:00',
      '2021-08-20 00:00:00',
      '2021-08-20 23:59:59',
    ],
    [
      'relative, across a month end',
      { date_type: 2, start_day_count: 2, expire_day_count: 3 },
      '2021-01-30 10:00:00',
      '2021-02-01 00:00:00',
      '2021-02-03 23:59:59',
    ],
    ['permanent: from the claim, no end', { date_type: 3 }, '2021-08-19 15:42:19', '2021-08-19 15:42:19', null],
  ])('%s', (_what, card, claimed, begin, end) => {
    const v = codeValidity(rule(card), sh(claimed), TZ);
    expect(v.begin).toEqual(sh(begin));
    // The end is the last millisecond of its last second.
    expect(v.end).toEqual(end === null ? null : new Date(sh(end).getTime() + 999));
  });

  it('follows daylight saving in zones that have it: a day is 23 or 25 hours there', () => {
    // Europe/Berlin springs forward on 2021-03-28: that day has 23 hours.
    const v = codeValidity(rule({ date_type: 2, start_day_count: 0, expire_day_count: 1 }), new Date('2021-03-28T10:00:00Z'), 'Europe/Berlin');
    expect(v.begin).toEqual(new Date('2021-03-27T23:00:00Z'));
    expect(v.end).toEqual(new Date('2021-03-28T21:59:59.999Z'));
  });
});

describe('claimRefusal', () => {
  const fixed = rule({ date_type: 1, begin_time: unix('2021-08-08 00:00:00'), end_time: unix('2021-09-10 23:59:59') });
  it.each<[string, ValidityRule, string, string | null]>([
    ['before the range', fixed, '2021-08-07 23:59:59', 'not_started'],
    ['at its begin', fixed, '2021-08-08 00:00:00', null],
    ['at its end', fixed, '2021-09-10 23:59:59', null],
    ['within its last second', fixed, '2021-09-10 23:59:59.900', null],
    ['after the range', fixed, '2021-09-11 00:00:00', 'ended'],
    ['relative: always', rule({ date_type: 2, start_day_count: 0, expire_day_count: 1 }), '2000-01-01 00:00:00', null],
    ['permanent: always', rule({ date_type: 3 }), '2099-01-01 00:00:00', null],
  ])('%s -> %s', (_what, card, at, refusal) => {
    expect(claimRefusal(card, sh(at))).toBe(refusal);
  });
});

describe('unusableAt', () => {
  const always: UsageRule = { weekdays: null, monthdays: null, day_begin_time: null, day_end_time: null };
  const validity = { begin: sh('2021-08-02 00:00:00'), end: sh('2021-08-31 23:59:59.999') };
  // 2021-08-02 is a Monday.
  it.each<[string, Partial<UsageRule>, string, UnusableReason | null]>([
    ['no restriction', {}, '2021-08-10 12:00:00', null],
    ['before the validity', {}, '2021-08-01 23:59:59', 'not_yet_valid'],
    ['at the first second', {}, '2021-08-02 00:00:00', null],
    ['at the last second', {}, '2021-08-31 23:59:59', null],
    ['within the last second', {}, '2021-08-31 23:59:59.500', null],
    ['after the validity', {}, '2021-09-01 00:00:00', 'expired'],
    ['weekday listed (Monday = 1)', { weekdays: '1,3,5' }, '2021-08-02 09:00:00', null],
    ['weekday not listed (Tuesday)', { weekdays: '1,3,5' }, '2021-08-03 09:00:00', 'weekday'],
    ['Sunday is 0', { weekdays: '0' }, '2021-08-08 09:00:00', null],
    ['the Shanghai weekday, not the UTC one', { weekdays: '2' }, '2021-08-03 01:00:00', null],
    ['monthday listed', { monthdays: '1,15,31' }, '2021-08-15 09:00:00', null],
    ['monthday not listed', { monthdays: '1,15,31' }, '2021-08-16 09:00:00', 'monthday'],
    ['empty lists restrict nothing', { weekdays: '', monthdays: '' }, '2021-08-16 09:00:00', null],
    ['inside the hours', { day_begin_time: 9 * 3600, day_end_time: 21 * 3600 }, '2021-08-10 09:00:00', null],
    ['the end second is included', { day_begin_time: 9 * 3600, day_end_time: 21 * 3600 }, '2021-08-10 21:00:00', null],
    ['before the hours', { day_begin_time: 9 * 3600, day_end_time: 21 * 3600 }, '2021-08-10 08:59:59', 'time_of_day'],
    ['after the hours', { day_begin_time: 9 * 3600, day_end_time: 21 * 3600 }, '2021-08-10 21:00:01', 'time_of_day'],
    ['only a begin', { day_begin_time: 3600 }, '2021-08-10 23:59:59', null],
    ['only an end', { day_end_time: 3600 }, '2021-08-10 01:00:01', 'time_of_day'],
  ])('%s', (_what, over, at, reason) => {
    expect(unusableAt({ ...always, ...over }, validity, sh(at), TZ)?.reason ?? null).toBe(reason);
  });

  it('a code without an end never expires', () => {
    expect(unusableAt(always, { begin: sh('2021-08-02 00:00:00'), end: null }, sh('2099-12-31 23:59:59'), TZ)).toBeNull();
  });

  it('says why in words', () => {
    expect(unusableAt({ ...always, day_begin_time: 9 * 3600, day_end_time: 21 * 3600 }, validity, sh('2021-08-10 22:00:00'), TZ)?.message).toBe(
      'is usable only between 09:00:00 and 21:00:00',
    );
  });
});
