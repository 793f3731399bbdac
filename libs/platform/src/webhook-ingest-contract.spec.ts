import 'reflect-metadata';
import { WEBHOOK_EVENTS_PER_INGEST, WebhookEventIn, webhookIngestEvents, webhookIngestMsg, WebhookIngestDto } from '@app/domain';
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
const msg = (events: WebhookEventIn[]): Record<string, unknown> => ({ ...webhookIngestMsg('card', events) });

describe('webhook.ingest contract (WebhookIngestDto: one array per field)', () => {
  it('accepts up to WEBHOOK_EVENTS_PER_INGEST events, in order, data_json kept as the text it was', async () => {
    const full = Array.from({ length: WEBHOOK_EVENTS_PER_INGEST }, (_, i) => ev(i + 1, i % 2 ? { member_no: null, type: 'card.created' } : {}));
    const got = value(await checkContract(WebhookIngestDto, msg(full)));
    expect(webhookIngestEvents(got)).toEqual(full);
    expect(value(await checkContract(WebhookIngestDto, msg([]))).event_id).toEqual([]);
  });

  it.each<[string, string, Record<string, unknown>]>([
    ['an unknown source', 'source', { ...msg([ev(1)]), source: 'orders' }],
    ['one event over the size', 'event_id', msg(Array.from({ length: WEBHOOK_EVENTS_PER_INGEST + 1 }, (_, i) => ev(i + 1)))],
    ['a missing field', 'occurred_at', { ...msg([ev(1)]), occurred_at: undefined }],
    ['a field that is not a list', 'type', { ...msg([ev(1)]), type: 'coupon.claimed' }],
    ['a bad event id in the second event', 'event_id', msg([ev(1), ev(2, { event_id: 'order-2' }), ev(3)])],
    ['a bad crm_id', 'crm_id', msg([ev(1, { crm_id: 'a b' })])],
    ['an unknown type', 'type', msg([ev(1, { type: 'coupon.refunded' })])],
    ['an empty member_no', 'member_no', msg([ev(1, { member_no: '' })])],
    ['a member_no over 64 characters', 'member_no', msg([ev(1, { member_no: 'm'.repeat(65) })])],
    ['a time that is not ISO 8601', 'occurred_at', msg([ev(1, { occurred_at: 'yesterday' })])],
    ['data as an object, not its JSON text', 'data_json', msg([ev(1, { data_json: { card_id: 'c1' } })])],
    ['data_json of a list', 'data_json', msg([ev(1, { data_json: '[1,2]' })])],
    ['data_json that is not JSON', 'data_json', msg([ev(1, { data_json: '{card_id: c1}' })])],
    ['data_json with an escaped NUL (jsonb refuses it: the whole batch would fail)', 'data_json', msg([ev(1, { data_json: '{"a":"x\\u0000y"}' })])],
    ['data_json with a NUL character', 'data_json.0', msg([ev(1, { data_json: '{"a":"x\u0000y"}' })])],
    ['arrays of different lengths', 'member_no', { ...msg([ev(1), ev(2)]), member_no: ['m1'] }],
  ])('refuses %s, naming %s', async (_name, field, input) => {
    expect(violations(await checkContract(WebhookIngestDto, input)).map((v) => v.field)).toContain(field);
  });

  it('says which rule failed, first declared first', async () => {
    const found = violations(await checkContract(WebhookIngestDto, msg([ev(1, { data_json: '{"a":"x\\u0000y"}' }), ev(2, { member_no: '' })])));
    expect(found).toEqual(
      expect.arrayContaining([
        { field: 'data_json', message: 'data_json must not contain the NUL character (\\u0000)' },
        { field: 'member_no', message: 'member_no must hold null or 1-64 characters per event' },
      ]),
    );
    expect(violations(await checkContract(WebhookIngestDto, { ...msg([ev(1), ev(2)]), data_json: ['{}'] }))).toEqual([
      { field: 'data_json', message: 'data_json must have one element per event (2, as event_id), not 1' },
    ]);
  });
});
