import { CardEvent, CardEventKind } from '../contracts/card-events';
import {
  ALL_CARDS,
  cardFactProblem,
  chainMoves,
  dayTransition,
  daysBetween,
  memberLane,
  dayIn,
  MemberDayAfter,
  memberSpanDeltas,
  NO_DAY,
  NO_NEXT_DAY,
  rollupDeltas,
  spanDiff,
  spanPairs,
} from './rollup.rules';
import { badDate, rangeViolations } from './dashboard.dto';

const ZONE = 'Asia/Shanghai';
let n = 0;
const ev = (kind: CardEventKind, over: Partial<CardEvent> = {}): CardEvent => ({
  crm_id: 'c1',
  event_id: `e${++n}`,
  kind,
  card_id: 'card-a',
  title: 'A',
  member_no: 'm1',
  count: 1,
  channel: null,
  occurred_at: '2024-03-01T02:00:00Z',
  day_of: '2024-03-01T02:00:00Z',
  ref: null,
  ...over,
});

describe('dayIn', () => {
  it.each([
    ['2024-03-01T15:59:59Z', '2024-03-01'],
    ['2024-03-01T16:00:00Z', '2024-03-02'],
    ['2024-03-02T00:30:00+08:00', '2024-03-02'],
  ])('%s is %s in Shanghai', (instant, day) => expect(dayIn(instant, ZONE)).toBe(day));
});

describe('rollupDeltas', () => {
  it.each<[string, CardEvent[], Record<string, number>]>([
    ['a claim', [ev('claim', { count: 2 })], { claim_num: 2 }],
    ['a claim and its reversal', [ev('claim', { count: 2 }), ev('claim_reverse', { count: 2 })], { claim_num: 0, claim_reverse_num: 2 }],
    ['a redemption reversed', [ev('redeem'), ev('redeem_reverse')], { redeem_num: 0, redeem_reverse_num: 1 }],
    ['a gift', [ev('gift')], { present_num: 1 }],
    [
      'accept, return, expire, void',
      [ev('gift_accept'), ev('gift_return'), ev('expire', { count: 3 }), ev('void')],
      { accept_num: 1, return_num: 1, expire_num: 3, void_num: 1 },
    ],
  ])('counts %s on the card_day row', (_what, events, counts) => {
    const d = rollupDeltas(events, ZONE);
    expect(d.cardDays).toHaveLength(1);
    expect(d.cardDays[0]).toMatchObject({ day: '2024-03-01', card_id: 'card-a', ...counts });
  });

  it('takes a reversal off the day, channel and member of what it reverses (day_of)', () => {
    const d = rollupDeltas(
      [
        ev('claim', { channel: '618', day_of: '2024-03-01T02:00:00Z' }),
        ev('claim_reverse', { channel: '618', occurred_at: '2024-03-05T02:00:00Z', day_of: '2024-03-01T02:00:00Z' }),
      ],
      ZONE,
    );
    expect(d.cardDays).toEqual([expect.objectContaining({ day: '2024-03-01', claim_num: 0, claim_reverse_num: 1 })]);
    expect(d.channelDays).toEqual([]);
    expect(d.memberDays).toEqual([]);
  });

  it('sums per row and sorts rows by key; null channels count under ""', () => {
    const d = rollupDeltas(
      [
        ev('claim', { member_no: 'm2', card_id: 'card-b' }),
        ev('claim', { member_no: 'm1' }),
        ev('claim', { member_no: 'm1', count: 2 }),
        ev('redeem', { channel: 'pos' }),
      ],
      ZONE,
    );
    expect(d.memberDays.map((r) => [r.kind, r.card_id, r.member_no, r.num])).toEqual([
      ['claim', 'card-a', 'm1', 3],
      ['claim', 'card-b', 'm2', 1],
      ['redeem', 'card-a', 'm1', 1],
    ]);
    expect(d.channelAllDays.map((r) => [r.kind, r.channel, r.num])).toEqual([
      ['claim', '', 4],
      ['redeem', 'pos', 1],
    ]);
    expect(d.channelDays.map((r) => [r.kind, r.card_id, r.channel, r.num])).toEqual([
      ['claim', 'card-a', '', 3],
      ['claim', 'card-b', '', 1],
      ['redeem', 'card-a', 'pos', 1],
    ]);
  });

  it('orders member_day by (kind, card, member, day) and channel_day by (kind, card, day, channel)', () => {
    const d = rollupDeltas(
      [
        ev('claim', { member_no: 'm2', day_of: '2024-03-01T02:00:00Z', channel: 'b' }),
        ev('claim', { member_no: 'm1', day_of: '2024-03-02T02:00:00Z', channel: 'a' }),
        ev('claim', { member_no: 'm1', day_of: '2024-03-01T02:00:00Z', channel: 'b', card_id: 'card-b' }),
      ],
      ZONE,
    );
    expect(d.memberDays.map((r) => [r.card_id, r.member_no, r.day])).toEqual([
      ['card-a', 'm1', '2024-03-02'],
      ['card-a', 'm2', '2024-03-01'],
      ['card-b', 'm1', '2024-03-01'],
    ]);
    expect(d.channelDays.map((r) => [r.card_id, r.day, r.channel])).toEqual([
      ['card-a', '2024-03-01', 'b'],
      ['card-a', '2024-03-02', 'a'],
      ['card-b', '2024-03-01', 'b'],
    ]);
  });

  it('keeps the title of the latest occurred_at, whatever the order of arrival', () => {
    const d = rollupDeltas(
      [ev('claim', { title: 'new', occurred_at: '2024-03-02T00:00:00Z' }), ev('claim', { title: 'old', occurred_at: '2024-03-01T00:00:00Z' })],
      ZONE,
    );
    expect(d.titles).toEqual([{ card_id: 'card-a', title: 'new', title_at: '2024-03-02T00:00:00Z' }]);
  });
});

describe('tenant-wide deltas (tenant_day, channel_day_all)', () => {
  const D2 = '2024-03-02T02:00:00Z';
  it.each<[string, CardEvent[], Array<Record<string, unknown>>, Array<[string, string, string, number]>]>([
    ['one claim', [ev('claim', { channel: 'x' })], [{ day: '2024-03-01', claim_num: 1 }], [['claim', '2024-03-01', 'x', 1]]],
    [
      'two cards on a day summed',
      [
        ev('claim', { count: 2, channel: 'x' }),
        ev('claim', { card_id: 'card-b', count: 3, channel: 'x' }),
        ev('redeem', { card_id: 'card-b', channel: 'pos' }),
      ],
      [{ day: '2024-03-01', claim_num: 5, redeem_num: 1 }],
      [
        ['claim', '2024-03-01', 'x', 5],
        ['redeem', '2024-03-01', 'pos', 1],
      ],
    ],
    [
      'days apart, in day order',
      [ev('gift', { day_of: D2 }), ev('claim', { card_id: 'card-b' })],
      [
        { day: '2024-03-01', claim_num: 1, present_num: 0 },
        { day: '2024-03-02', present_num: 1, claim_num: 0 },
      ],
      [['claim', '2024-03-01', '', 1]],
    ],
    [
      'a claim reversed on another card: the day kept (reversal counter), the channel sum of 0 left off',
      [ev('claim', { channel: 'x' }), ev('claim_reverse', { card_id: 'card-b', channel: 'x' })],
      [{ day: '2024-03-01', claim_num: 0, claim_reverse_num: 1 }],
      [],
    ],
    ['expire and void only', [ev('expire', { count: 2 }), ev('void', { card_id: 'card-b' })], [{ day: '2024-03-01', expire_num: 2, void_num: 1 }], []],
  ])('%s', (_what, events, tenantDays, channels) => {
    const d = rollupDeltas(events, ZONE);
    expect(d.tenantDays).toHaveLength(tenantDays.length);
    tenantDays.forEach((t, i) => expect(d.tenantDays[i]).toMatchObject(t));
    expect(d.channelAllDays.map((r) => [r.kind, r.day, r.channel, r.num])).toEqual(channels);
  });

  it('equals the sums of card_day and channel_day over cards, for a random batch', () => {
    let seed = 11;
    const rand = (k: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % k);
    const kinds: CardEventKind[] = ['claim', 'claim_reverse', 'redeem', 'redeem_reverse', 'gift', 'gift_accept', 'gift_return', 'expire', 'void'];
    const events = Array.from({ length: 300 }, () =>
      ev(kinds[rand(kinds.length)], {
        card_id: `card-${rand(4)}`,
        channel: rand(3) ? `ch${rand(3)}` : null,
        count: 1 + rand(3),
        day_of: `2024-03-0${1 + rand(3)}T02:00:00Z`,
      }),
    );
    const d = rollupDeltas(events, ZONE);
    for (const t of d.tenantDays) {
      const cards = d.cardDays.filter((c) => c.day === t.day);
      for (const k of ['claim_num', 'claim_reverse_num', 'redeem_num', 'present_num', 'void_num'] as const)
        expect([t.day, k, t[k]]).toEqual([t.day, k, cards.reduce((a, c) => a + c[k], 0)]);
    }
    expect(d.tenantDays.map((t) => t.day)).toEqual([...new Set(d.cardDays.map((c) => c.day))].sort());
    const sums = new Map<string, number>();
    for (const c of d.channelDays) sums.set(`${c.kind}|${c.day}|${c.channel}`, (sums.get(`${c.kind}|${c.day}|${c.channel}`) ?? 0) + c.num);
    expect(Object.fromEntries(d.channelAllDays.map((c) => [`${c.kind}|${c.day}|${c.channel}`, c.num]))).toEqual(
      Object.fromEntries([...sums].filter(([, v]) => v !== 0)),
    );
  });
});

describe('member_all_day deltas', () => {
  it('sums a member over cards per kind and day, in key order, sums of 0 left off', () => {
    const d = rollupDeltas(
      [
        ev('claim', { member_no: 'm2', card_id: 'card-a' }),
        ev('claim', { member_no: 'm1', card_id: 'card-b', count: 2 }),
        ev('claim', { member_no: 'm1', card_id: 'card-a' }),
        ev('redeem', { member_no: 'm1', card_id: 'card-a' }),
        ev('redeem_reverse', { member_no: 'm1', card_id: 'card-b' }),
        ev('claim', { member_no: 'm1', card_id: 'card-a', day_of: '2024-03-02T02:00:00Z' }),
      ],
      ZONE,
    );
    expect(d.memberAllDays).toEqual([
      { kind: 'claim', member_no: 'm1', day: '2024-03-01', num: 3 },
      { kind: 'claim', member_no: 'm1', day: '2024-03-02', num: 1 },
      { kind: 'claim', member_no: 'm2', day: '2024-03-01', num: 1 },
    ]);
  });

  it('takes the day from a function when given one', () => {
    expect(rollupDeltas([ev('claim')], () => '2030-01-01').memberAllDays[0].day).toBe('2030-01-01');
  });

  it.each<[number, number, 'up' | 'down' | null]>([
    [1, 1, 'up'],
    [3, 1, null],
    [1, 2, 'up'],
    [0, -1, 'down'],
    [-1, -3, 'down'],
    [0, 1, null],
    [-1, 1, null],
    [2, -1, null],
  ])('num %i after a delta of %i: %s', (num, delta, t) => expect(dayTransition(num, delta)).toBe(t));
});

describe('member_span pairs', () => {
  const D1 = '2024-03-01';
  const D2 = '2024-03-02';
  const D3 = '2024-03-03';
  const D4 = '2024-03-04';

  const E = NO_NEXT_DAY;
  it('chains active days, the first after NO_DAY, the last before NO_NEXT_DAY', () => {
    expect(spanPairs([D1, D3])).toEqual([
      [D1, NO_DAY],
      [D3, D1],
      [E, D3],
    ]);
    expect(spanPairs([])).toEqual([]);
  });

  it.each<[string, string[], string[], string[], Array<[string, string, number]>]>([
    [
      'a first day ever',
      [D2],
      [D2],
      [],
      [
        [D2, NO_DAY, 1],
        [E, D2, 1],
      ],
    ],
    [
      'a new first day before others',
      [D1, D3],
      [D1],
      [],
      [
        [D1, NO_DAY, 1],
        [D3, NO_DAY, -1],
        [D3, D1, 1],
      ],
    ],
    [
      'a day between two',
      [D1, D2, D3],
      [D2],
      [],
      [
        [D2, D1, 1],
        [D3, D1, -1],
        [D3, D2, 1],
      ],
    ],
    [
      'a new last day',
      [D1, D3],
      [D3],
      [],
      [
        [D3, D1, 1],
        [E, D1, -1],
        [E, D3, 1],
      ],
    ],
    [
      'removing the only day',
      [],
      [],
      [D2],
      [
        [D2, NO_DAY, -1],
        [E, D2, -1],
      ],
    ],
    [
      'removing the first day',
      [D3],
      [],
      [D1],
      [
        [D1, NO_DAY, -1],
        [D3, NO_DAY, 1],
        [D3, D1, -1],
      ],
    ],
    [
      'removing a day between two',
      [D1, D3],
      [],
      [D2],
      [
        [D2, D1, -1],
        [D3, D1, 1],
        [D3, D2, -1],
      ],
    ],
    [
      'removing the last day',
      [D1],
      [],
      [D3],
      [
        [D3, D1, -1],
        [E, D1, 1],
        [E, D3, -1],
      ],
    ],
    // Before: D1, D2, D4; after: D1, D3, D4 (D2 down, D3 up).
    [
      'several transitions of one member in one batch',
      [D1, D3, D4],
      [D3],
      [D2],
      [
        [D2, D1, -1],
        [D3, D1, 1],
        [D4, D2, -1],
        [D4, D3, 1],
      ],
    ],
    [
      'two new days at once, nothing before',
      [D1, D2],
      [D1, D2],
      [],
      [
        [D1, NO_DAY, 1],
        [D2, D1, 1],
        [E, D2, 1],
      ],
    ],
    [
      'every day gone at once',
      [],
      [],
      [D1, D4],
      [
        [D1, NO_DAY, -1],
        [D4, D1, -1],
        [E, D4, -1],
      ],
    ],
  ])('%s', (_what, after, ups, downs, expected) => {
    expect(spanDiff(after, ups, downs)).toEqual(expected.map(([day, prev_day, n]) => ({ day, prev_day, n })));
  });

  it('sums several members per row and scope, in key order (kind, card_id, day, prev_day), leaving sums of 0 off', () => {
    expect(
      memberSpanDeltas([
        { kind: 'redeem', card_id: ALL_CARDS, after: [D1], ups: [D1], downs: [] },
        { kind: 'claim', card_id: 'card-b', after: [D2], ups: [D2], downs: [] },
        { kind: 'claim', card_id: ALL_CARDS, after: [D2], ups: [D2], downs: [] },
        { kind: 'claim', card_id: ALL_CARDS, after: [D2], ups: [D2], downs: [] },
        { kind: 'claim', card_id: 'card-a', after: [D1, D2], ups: [D2], downs: [] },
        { kind: 'claim', card_id: ALL_CARDS, after: [], ups: [], downs: [D1] },
        { kind: 'claim', card_id: ALL_CARDS, after: [D1], ups: [D1], downs: [] },
      ]),
    ).toEqual([
      { kind: 'claim', card_id: ALL_CARDS, day: D2, prev_day: NO_DAY, n: 2 },
      { kind: 'claim', card_id: ALL_CARDS, day: E, prev_day: D2, n: 2 },
      { kind: 'claim', card_id: 'card-a', day: D2, prev_day: D1, n: 1 },
      { kind: 'claim', card_id: 'card-a', day: E, prev_day: D1, n: -1 },
      { kind: 'claim', card_id: 'card-a', day: E, prev_day: D2, n: 1 },
      { kind: 'claim', card_id: 'card-b', day: D2, prev_day: NO_DAY, n: 1 },
      { kind: 'claim', card_id: 'card-b', day: E, prev_day: D2, n: 1 },
      { kind: 'redeem', card_id: ALL_CARDS, day: D1, prev_day: NO_DAY, n: 1 },
      { kind: 'redeem', card_id: ALL_CARDS, day: E, prev_day: D1, n: 1 },
    ]);
  });

  const after = (kind: 'claim' | 'redeem', card_id: string, member_no: string, day: string, num: number, delta: number): MemberDayAfter => ({
    kind,
    card_id,
    member_no,
    day,
    num,
    delta,
  });
  it.each<[string, MemberDayAfter[], Array<[string, string, string, string[], string[]]>]>([
    ['nothing crossed 0', [after('claim', 'card-a', 'm1', D1, 3, 1), after('claim', ALL_CARDS, 'm1', D1, 5, 1)], []],
    [
      'a first claim: up on the card and across cards',
      [after('claim', 'card-a', 'm1', D1, 1, 1), after('claim', ALL_CARDS, 'm1', D1, 1, 1)],
      [
        ['claim', ALL_CARDS, 'm1', [D1], []],
        ['claim', 'card-a', 'm1', [D1], []],
      ],
    ],
    [
      'up on a second card only (the member was active across cards already)',
      [after('claim', 'card-b', 'm1', D1, 1, 1), after('claim', ALL_CARDS, 'm1', D1, 2, 1)],
      [['claim', 'card-b', 'm1', [D1], []]],
    ],
    [
      'a reversal down on one card, another up the same day',
      [after('claim', 'card-a', 'm1', D3, 0, -1), after('claim', 'card-b', 'm1', D3, 1, 1), after('claim', ALL_CARDS, 'm1', D3, 1, 0)],
      [
        ['claim', 'card-a', 'm1', [], [D3]],
        ['claim', 'card-b', 'm1', [D3], []],
      ],
    ],
    [
      'several days of one chain, days sorted; kinds and members apart',
      [
        after('redeem', 'card-a', 'm2', D4, 1, 1),
        after('claim', 'card-a', 'm1', D4, 1, 1),
        after('claim', 'card-a', 'm1', D2, -1, -2),
        after('claim', 'card-a', 'm1', D1, 2, 2),
      ],
      [
        ['claim', 'card-a', 'm1', [D1, D4], [D2]],
        ['redeem', 'card-a', 'm2', [D4], []],
      ],
    ],
  ])('chainMoves: %s', (_what, rows, expected) => {
    expect(chainMoves(rows).map((m) => [m.kind, m.card_id, m.member_no, m.ups, m.downs])).toEqual(expected);
  });

  it('keeps span totals equal to distinct members over any range, whatever the order of changes (random walk)', () => {
    const days = daysBetween('2024-03-01', '2024-03-08');
    let seed = 7;
    const rand = (k: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % k);
    const nums = new Map<string, number>(); // member|day -> num
    const span = new Map<string, number>(); // day|prev -> n
    for (let step = 0; step < 400; step++) {
      // One batch: a few deltas of one member.
      const m = `m${rand(5)}`;
      const changes = new Map<string, number>();
      for (let i = 0; i < 1 + rand(3); i++) changes.set(days[rand(days.length)], rand(5) - 2 || 1);
      const ups: string[] = [];
      const downs: string[] = [];
      for (const [d, delta] of changes) {
        const v = (nums.get(`${m}|${d}`) ?? 0) + delta;
        nums.set(`${m}|${d}`, v);
        const t = dayTransition(v, delta);
        if (t === 'up') ups.push(d);
        if (t === 'down') downs.push(d);
      }
      const after = days.filter((d) => (nums.get(`${m}|${d}`) ?? 0) > 0);
      for (const r of memberSpanDeltas([{ kind: 'claim', card_id: ALL_CARDS, after, ups, downs }]))
        span.set(`${r.day}|${r.prev_day}`, (span.get(`${r.day}|${r.prev_day}`) ?? 0) + r.n);
    }
    for (const a of days) {
      for (const b of days.filter((d) => d >= a)) {
        const distinct = new Set([...nums.entries()].filter(([k, v]) => v > 0 && k.split('|')[1] >= a && k.split('|')[1] <= b).map(([k]) => k.split('|')[0]))
          .size;
        const fromSpan = [...span.entries()]
          .filter(([k]) => k.split('|')[0] >= a && k.split('|')[0] <= b && k.split('|')[1] < a)
          .reduce((x, [, n]) => x + n, 0);
        expect([a, b, fromSpan]).toEqual([a, b, distinct]);
      }
    }
  });
});

describe('member_span per card and across cards (random walk through rollupDeltas and chainMoves)', () => {
  it('keeps each scope equal to distinct members over any range: per card, and across cards', () => {
    const days = daysBetween('2024-03-01', '2024-03-06');
    let seed = 3;
    const rand = (k: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % k);
    const memberDay = new Map<string, number>(); // card|member|day -> num
    const allDay = new Map<string, number>(); // member|day -> num
    const span = new Map<string, number>(); // card|day|prev -> n
    const activeDays = (pred: (k: string[]) => boolean, src: Map<string, number>) =>
      [...src.entries()]
        .filter(([k, v]) => v > 0 && pred(k.split('|')))
        .map(([k]) => k.split('|').at(-1)!)
        .sort();
    for (let step = 0; step < 300; step++) {
      const events = Array.from({ length: 1 + rand(6) }, () =>
        ev(rand(4) ? 'claim' : 'claim_reverse', {
          card_id: `card-${rand(3)}`,
          member_no: `m${rand(4)}`,
          count: 1 + rand(2),
          day_of: `${days[rand(days.length)]}T02:00:00Z`,
        }),
      );
      const d = rollupDeltas(events, ZONE);
      const rows: MemberDayAfter[] = [];
      for (const m of d.memberDays) {
        const k = `${m.card_id}|${m.member_no}|${m.day}`;
        memberDay.set(k, (memberDay.get(k) ?? 0) + m.num);
        rows.push({ kind: m.kind, card_id: m.card_id, member_no: m.member_no, day: m.day, num: memberDay.get(k)!, delta: m.num });
      }
      for (const m of d.memberAllDays) {
        const k = `${m.member_no}|${m.day}`;
        allDay.set(k, (allDay.get(k) ?? 0) + m.num);
        rows.push({ kind: m.kind, card_id: ALL_CARDS, member_no: m.member_no, day: m.day, num: allDay.get(k)!, delta: m.num });
      }
      const moves = chainMoves(rows);
      const chains = moves.map((c) => ({
        ...c,
        after:
          c.card_id === ALL_CARDS ? activeDays((k) => k[0] === c.member_no, allDay) : activeDays((k) => k[0] === c.card_id && k[1] === c.member_no, memberDay),
      }));
      for (const r of memberSpanDeltas(chains)) {
        const k = `${r.card_id}|${r.day}|${r.prev_day}`;
        span.set(k, (span.get(k) ?? 0) + r.n);
      }
    }
    for (const scope of [ALL_CARDS, 'card-0', 'card-1', 'card-2']) {
      for (const a of days) {
        for (const b of days.filter((x) => x >= a)) {
          const distinct = new Set(
            [...memberDay.entries()]
              .filter(([k, v]) => v > 0 && (scope === ALL_CARDS || k.split('|')[0] === scope) && k.split('|')[2] >= a && k.split('|')[2] <= b)
              .map(([k]) => k.split('|')[1]),
          ).size;
          const fromSpan = [...span.entries()]
            .filter(([k]) => {
              const [c, d, p] = k.split('|');
              return c === scope && d >= a && d <= b && p < a;
            })
            .reduce((x, [, n]) => x + n, 0);
          expect([scope, a, b, fromSpan]).toEqual([scope, a, b, distinct]);
        }
      }
    }
    expect([...span.values()].every((n) => n >= 0)).toBe(true);
  });
});

describe('cardFactProblem', () => {
  const { event_id: _id, ...fact } = ev('claim', { channel: 'x' });
  it('accepts a fact', () => expect(cardFactProblem(fact)).toBeNull());
  it.each<[string, Record<string, unknown>, RegExp]>([
    ['an unknown kind', { kind: 'steal' }, /kind/],
    ['a count of 0', { count: 0 }, /count/],
    ['a fractional count', { count: 1.5 }, /count/],
    ['no member', { member_no: '' }, /member_no/],
    ['a date without time', { day_of: '2024-03-01' }, /day_of/],
    ['a number channel', { channel: 5 }, /channel/],
  ])('refuses %s', (_what, over, why) => expect(cardFactProblem({ ...fact, ...over })).toMatch(why));
});

describe('memberLane', () => {
  it('puts a member in the same lane every time, within 0 .. lanes - 1', () => {
    for (const lanes of [1, 2, 3, 8]) {
      for (const m of ['m-1', 'm-2', '会员-007', 'x'.repeat(64)]) {
        const lane = memberLane(m, lanes);
        expect(lane).toBe(memberLane(m, lanes));
        expect(lane).toBeGreaterThanOrEqual(0);
        expect(lane).toBeLessThan(lanes);
      }
    }
  });
  it('spreads members over the lanes', () => {
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) counts[memberLane(`member-${i}`, 4)]++;
    for (const c of counts) expect(c).toBeGreaterThan(800);
  });
});

describe('ranges', () => {
  it('lists every day, both ends included', () => expect(daysBetween('2024-02-28', '2024-03-01')).toEqual(['2024-02-28', '2024-02-29', '2024-03-01']));
  it('crosses a year end and a non-leap February', () => {
    expect(daysBetween('2022-12-30', '2023-01-02')).toEqual(['2022-12-30', '2022-12-31', '2023-01-01', '2023-01-02']);
    expect(daysBetween('2023-02-27', '2023-03-01')).toEqual(['2023-02-27', '2023-02-28', '2023-03-01']);
    expect(daysBetween('2024-01-01', '2024-12-31')).toHaveLength(366);
    expect(daysBetween('2024-01-02', '2024-01-01')).toEqual([]);
  });
  it.each<[string, boolean]>([
    ['2024-02-29', true],
    ['2023-02-29', false],
    ['2022-02-30', false],
    ['2022-13-01', false],
    ['2022-00-10', false],
    ['2022-04-31', false],
    ['0000-01-01', false],
    ['0001-01-01', true],
    ['9999-12-31', true],
    ['2022-1-01', false],
  ])('%s is a real day: %s', (text, real) =>
    expect(badDate('start_date', text)).toEqual(real ? null : { field: 'start_date', message: 'start_date is not a real date' }),
  );
  it.each<[string, string, string | null]>([
    ['2024-01-01', '2024-01-01', null],
    ['2024-01-02', '2024-01-01', 'start_date'],
    ['2024-01-01', '2024-12-31', null],
    ['2023-01-01', '2024-01-01', null],
    ['2023-01-01', '2024-01-02', 'end_date'],
  ])('%s..%s: %s', (a, b, field) => expect(rangeViolations(a, b)[0]?.field ?? null).toBe(field));
});
