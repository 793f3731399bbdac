import { decodeFactsCursor, encodeFactsCursor, FactKey, FactSource } from './facts.cursor';

describe('card facts cursor', () => {
  it.each<[FactSource, FactKey]>([
    ['receive', ['rcv-1', 'card_a', 1]],
    ['present', ['pr:1', 2]],
    ['redeem', ['rd.1', 0]],
    ['expired', ['9007199254740993']],
    ['obsoleted', ['1']],
  ])('gives back the %s key it encoded, for the same tenant only', (source, key) => {
    const text = encodeFactsCursor('crm_a', source, key);
    expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeFactsCursor('crm_a', text)).toEqual({ source, key });
    expect(decodeFactsCursor('crm_b', text)).toEqual({ refused: 'cursor was answered for another tenant' });
  });

  const raw = (x: unknown) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');

  it.each([
    ['not base64 JSON', 'not-a-cursor'],
    ['JSON but not an object', raw('[1,2]')],
    ['an unknown source', raw({ t: 'crm_a', s: 'outbox', k: ['1'] })],
    ['a key of the wrong length', raw({ t: 'crm_a', s: 'present', k: ['pr'] })],
    ['an ord out of range', raw({ t: 'crm_a', s: 'redeem', k: ['rd', 2] })],
    ['an auto_id that is not decimal', raw({ t: 'crm_a', s: 'expired', k: ['1 OR 1=1'] })],
    ['an empty id', raw({ t: 'crm_a', s: 'receive', k: ['', 'c', 0] })],
  ])('refuses %s', (_what, text) => {
    expect(decodeFactsCursor('crm_a', text)).toEqual({ refused: 'cursor is not a cursor answered by card.event_facts' });
  });
});
