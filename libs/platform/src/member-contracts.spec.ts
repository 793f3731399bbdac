import 'reflect-metadata';
import { CardListQueryDto, PresentDto, PresentMsg, ReceiveDto, RedeemDto, Violation } from '@app/domain';
import { checkContract } from './contract.pipe';
import { value, violations } from './testing/contract-results';

const CARD = '21008fdbabd30c04548a56be6eed016c';
/** The spec's receive example, with a card id of ours. */
const receive = (over: Record<string, unknown> = {}) => ({
  received_id: 'received_id11111111',
  member_no: '32880aa593b144508484cb8bb8261041',
  out_str: 'sim_data',
  card_info: { [CARD]: 2 },
  ...over,
});

describe('member contracts', () => {
  it('accepts the spec example of receive, several cards included', async () => {
    const m = value(await checkContract(ReceiveDto, receive({ card_info: { [CARD]: 2, b: 1, c: 100 } })));
    expect(m.card_info).toEqual({ [CARD]: 2, b: 1, c: 100 });
  });

  it.each<[string, Record<string, unknown>, Violation]>([
    ['no card', { card_info: {} }, { field: 'card_info', message: 'card_info must name at least one card' }],
    ['a count of 0', { card_info: { [CARD]: 0 } }, { field: `card_info.${CARD}`, message: `card_info.${CARD} must be a whole number from 1 to 100` }],
    ['a count over 100', { card_info: { [CARD]: 101 } }, { field: `card_info.${CARD}`, message: `card_info.${CARD} must be a whole number from 1 to 100` }],
    ['a fractional count', { card_info: { [CARD]: 1.5 } }, { field: `card_info.${CARD}`, message: `card_info.${CARD} must be a whole number from 1 to 100` }],
    ['a count as text', { card_info: { [CARD]: '2' } }, { field: `card_info.${CARD}`, message: `card_info.${CARD} must be a whole number from 1 to 100` }],
    [
      '21 cards',
      { card_info: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`c${i}`, 1])) },
      { field: 'card_info', message: 'card_info may name at most 20 cards' },
    ],
    ['card_info as a list', { card_info: [1] }, { field: 'card_info', message: 'card_info must be an object' }],
    ['no received_id', { received_id: undefined }, { field: 'received_id', message: 'received_id must be a string' }],
    ['a received_id with a space', { received_id: 'a b' }, { field: 'received_id', message: 'received_id must be 1-64 letters, digits, _ . : or -' }],
    ['an out_str of 33 characters', { out_str: 'x'.repeat(33) }, { field: 'out_str', message: 'out_str must be shorter than or equal to 32 characters' }],
    ['an empty member_no', { member_no: '' }, { field: 'member_no', message: 'member_no must be longer than or equal to 1 characters' }],
  ])('receive with %s names the field', async (_what, over, violation) => {
    expect(violations(await checkContract(ReceiveDto, receive(over)))).toEqual([violation]);
  });

  const present = { member_no: 'm1', card_id: CARD, card_code: '1428236189390864394' };

  it.each([['presant_extra'], ['present_extra']])('present reads the message spelled %s', async (spelling) => {
    const m = value(await checkContract(PresentDto, { ...present, [spelling]: '分享好券' }));
    expect(m.presant_extra).toBe('分享好券');
  });

  it('present on the service side needs crm_id and keeps the alias rule', async () => {
    const m = value(await checkContract(PresentMsg, { ...present, present_extra: 'x', crm_id: 'instance_id22222222', present_id: 'p-1' }));
    expect(m).toMatchObject({ crm_id: 'instance_id22222222', present_id: 'p-1', presant_extra: 'x' });
  });

  it('present on the service side needs the present_id the gateway mints', async () => {
    const result = await checkContract(PresentMsg, { ...present, presant_extra: 'x', crm_id: 'instance_id22222222' });
    expect(violations(result).map((v) => v.field)).toEqual(['present_id']);
  });

  it('redeem needs every field of the spec', async () => {
    const names = violations(await checkContract(RedeemDto, {})).map((v) => v.field);
    expect(names.sort()).toEqual(['card_code', 'card_id', 'member_no', 'redeem_channel', 'redeem_extra', 'redeem_id']);
  });

  it.each<[Record<string, unknown>, Violation | null]>([
    [{ member_no: 'm', code_status: '1', page_id: '2', page_size: '20' }, null],
    [{ member_no: 'm', code_status: '6' }, null],
    [{ member_no: 'm', code_status: '7' }, null],
    [
      { member_no: 'm', code_status: '8' },
      { field: 'code_status', message: 'code_status must be one of the following values: 1, 2, 3, 4, 5, 6, 7' },
    ],
    [
      { member_no: 'm', page_size: '101' },
      { field: 'page_size', message: 'page_size must not be greater than 100' },
    ],
    [{ code_status: '1' }, { field: 'member_no', message: 'member_no must be a string' }],
  ])('card_list query %j', async (query, violation) => {
    const result = await checkContract(CardListQueryDto, query);
    if (violation) expect(violations(result)).toEqual([violation]);
    else expect(value(result).member_no).toBe('m');
  });
});
