import 'reflect-metadata';
import { WEBHOOK_EVENTS_PER_INGEST, WebhookEventIn, WebhookIngestDto } from '@app/domain';
import { checkContract } from './contract.pipe';
import { value, violations } from './testing/contract-results';

const ev = (i: number, over: Record<string, unknown> = {}): WebhookEventIn => ({
  crm_id: 'crm_a',
  event_id: `card-${i}`,
  type: 'coupon.claimed',
  member_no: `m${i}`,
  occurred_at: '2026-12-06T02:00:00.000Z',
  data_json: JSON.stringify({ card_id: 'c1', member_no: `m${i}`, codes: [`X${i}`] }),
  ...over,
});
const msg = (events: unknown[]) => ({ source: 'card', events });

describe('webhook.ingest contract (WebhookIngestDto)', () => {
  it('accepts up to WEBHOOK_EVENTS_PER_INGEST events, data_json kept as the text it was', async () => {
    const full = Array.from({ length: WEBHOOK_EVENTS_PER_INGEST }, (_, i) => ev(i + 1));
    const got = value(await checkContract(WebhookIngestDto, msg(full)));
    expect(got.events).toEqual(full);
    expect(typeof got.events[0].data_json).toBe('string');
    expect(value(await checkContract(WebhookIngestDto, msg([ev(1, { member_no: null, type: 'card.created' })]))).events).toHaveLength(1);
  });

  it.each<[string, string, unknown]>([
    ['an unknown source', 'source', { source: 'orders', events: [ev(1)] }],
    ['one event over the size', 'events', msg(Array.from({ length: WEBHOOK_EVENTS_PER_INGEST + 1 }, (_, i) => ev(i + 1)))],
    ['a bad event id in the second event', 'events.1.event_id', msg([ev(1), ev(2, { event_id: 'order-2' }), ev(3)])],
    ['an unknown type', 'events.0.type', msg([ev(1, { type: 'coupon.refunded' })])],
    ['a time that is not ISO 8601', 'events.0.occurred_at', msg([ev(1, { occurred_at: 'yesterday' })])],
    ['data as an object, not its JSON text', 'events.0.data_json', msg([ev(1, { data_json: { card_id: 'c1' } })])],
    ['data_json of a list', 'events.0.data_json', msg([ev(1, { data_json: '[1,2]' })])],
    ['data_json that is not JSON', 'events.0.data_json', msg([ev(1, { data_json: '{card_id: c1}' })])],
    ['data_json with an escaped NUL (jsonb refuses it: the whole batch would fail)', 'events.0.data_json', msg([ev(1, { data_json: '{"a":"x\\u0000y"}' })])],
    ['data_json with a NUL character', 'events.0.data_json', msg([ev(1, { data_json: '{"a":"x\u0000y"}' })])],
  ])('refuses %s, naming %s', async (_name, field, input) => {
    expect(violations(await checkContract(WebhookIngestDto, input)).map((v) => v.field)).toContain(field);
  });
});
