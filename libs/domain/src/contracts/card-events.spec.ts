import { CARD_EVENTS_PER_JOB, CardEvent, cardEventBatches, cardEventBatchJobId } from './card-events';

const ev = (crm_id: string, event_id: string): CardEvent => ({
  crm_id,
  event_id,
  kind: 'claim',
  card_id: 'c'.repeat(32),
  title: 't',
  member_no: 'm',
  count: 1,
  channel: null,
  occurred_at: '2024-03-01T02:00:00.000Z',
  day_of: '2024-03-01T02:00:00.000Z',
  ref: null,
});
/** Shorthand: "a1" is event 1 of tenant a. */
const evs = (...keys: string[]) => keys.map((k) => ev(k[0], k.slice(1)));
const shape = (events: CardEvent[], max?: number) => cardEventBatches(events, max).map((b) => [b.crm_id, b.events.map((e) => e.event_id).join(',')]);

describe("cardEventBatches (the relay's jobs)", () => {
  it.each<[string, string[], number, string[][]]>([
    ['nothing', [], 3, []],
    ['one tenant under the size', ['a1', 'a2'], 3, [['a', '1,2']]],
    [
      'one tenant cut at the size, order kept',
      ['a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7'],
      3,
      [
        ['a', '1,2,3'],
        ['a', '4,5,6'],
        ['a', '7'],
      ],
    ],
    [
      'tenants interleaved: never mixed, each in its order, tenants by first event',
      ['b1', 'a2', 'b3', 'a4', 'b5', 'b6', 'b7'],
      3,
      [
        ['b', '1,3,5'],
        ['b', '6,7'],
        ['a', '2,4'],
      ],
    ],
    [
      'size 1',
      ['a1', 'b2', 'a3'],
      1,
      [
        ['a', '1'],
        ['a', '3'],
        ['b', '2'],
      ],
    ],
  ])('%s', (_name, keys, max, expected) => {
    expect(shape(evs(...keys), max)).toEqual(expected);
  });

  it('cuts at CARD_EVENTS_PER_JOB by default', () => {
    const events = Array.from({ length: 2 * CARD_EVENTS_PER_JOB + 1 }, (_, i) => ev('a', String(i + 1)));
    expect(cardEventBatches(events).map((b) => b.events.length)).toEqual([CARD_EVENTS_PER_JOB, CARD_EVENTS_PER_JOB, 1]);
  });

  it('refuses a size below 1', () => {
    expect(() => cardEventBatches(evs('a1'), 0)).toThrow(/at least 1/);
  });
});

describe('cardEventBatchJobId', () => {
  const id = (...keys: string[]) => cardEventBatchJobId({ crm_id: keys[0][0], events: evs(...keys) });

  it('names the tenant, the first and last event_id, and a digest of every id', () => {
    expect(id('a1', 'a5', 'a9')).toMatch(/^a\.1-9\.[0-9a-f]{12}$/);
    expect(id('a7')).toMatch(/^a\.7-7\.[0-9a-f]{12}$/);
  });

  it('is the same for the same events and differs for other events between the same ends', () => {
    expect(id('a1', 'a5', 'a9')).toBe(id('a1', 'a5', 'a9'));
    expect(id('a1', 'a5', 'a9')).not.toBe(id('a1', 'a6', 'a9'));
    expect(id('a1', 'a5', 'a9')).not.toBe(id('a1', 'a9'));
    expect(id('a1', 'a9')).not.toBe(id('b1', 'b9'));
  });
});
