import 'reflect-metadata';
import { CARD_EVENTS_PER_JOB, CardEvent, CardEventBatchDto } from '@app/domain';
import { checkContract } from './contract.pipe';
import { value, violations } from './testing/contract-results';

const ev = (i: number, over: Record<string, unknown> = {}): CardEvent => ({
  crm_id: 'crm_a',
  event_id: String(i),
  kind: 'claim',
  card_id: 'c'.repeat(32),
  title: 'card',
  member_no: `m${i}`,
  count: 1,
  channel: 'wechat',
  occurred_at: '2024-03-01T02:00:00.000Z',
  day_of: '2024-03-01T02:00:00.000Z',
  ref: null,
  ...over,
});
const batch = (events: unknown[], crm_id = 'crm_a') => ({ crm_id, events });

describe('card-events job contract (CardEventBatchDto)', () => {
  it('accepts 1 to CARD_EVENTS_PER_JOB events of its tenant, each checked as CardEventDto', async () => {
    expect(value(await checkContract(CardEventBatchDto, batch([ev(1)]))).events).toHaveLength(1);
    const full = Array.from({ length: CARD_EVENTS_PER_JOB }, (_, i) => ev(i + 1));
    expect(value(await checkContract(CardEventBatchDto, batch(full))).events).toEqual(full);
  });

  it.each<[string, unknown, string]>([
    ['no events', batch([]), 'events'],
    ['events not a list', { crm_id: 'crm_a', events: ev(1) }, 'events'],
    ['one event over the size', batch(Array.from({ length: CARD_EVENTS_PER_JOB + 1 }, (_, i) => ev(i + 1))), 'events'],
    ['a bad count in the second event', batch([ev(1), ev(2, { count: 0 }), ev(3)]), 'events.1.count'],
    ['an unknown kind', batch([ev(1, { kind: 'refund' })]), 'events.0.kind'],
    ['an event that is not an object', batch([ev(1), 42]), 'events.1'],
    ['an event of another tenant', batch([ev(1), ev(2, { crm_id: 'crm_b' })]), 'events.1.crm_id'],
    ['a bad crm_id', batch([ev(1, { crm_id: 'a b' })], 'a b'), 'crm_id'],
  ])('refuses %s, naming %s', async (_name, input, field) => {
    expect(violations(await checkContract(CardEventBatchDto, input)).map((v) => v.field)).toContain(field);
  });
});
