import 'reflect-metadata';
import {
  AddStockDto,
  EXAMPLE_CARD,
  CardExtraInfoDto,
  CreateCardDto,
  CreateCardMsg,
  ImportCodesDto,
  IssueKeyDto,
  ListCardsQueryDto,
  Violation,
} from '@app/domain';
import { checkContract } from './contract.pipe';
import { value, violations } from './testing/contract-results';

/** A valid card without stock, as in the spec's example. */
function cardBody(over: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...EXAMPLE_CARD, total_quantity: 0, ...over };
}

function without(body: Record<string, unknown>, ...keys: string[]): Record<string, unknown> {
  const out = { ...body };
  for (const k of keys) delete out[k];
  return out;
}

describe('checkContract', () => {
  it('accepts the spec example card as an instance of the contract', async () => {
    const card = value(await checkContract(CreateCardDto, cardBody()));
    expect(card).toBeInstanceOf(CreateCardDto);
    expect(card.extra_info).toBeInstanceOf(CardExtraInfoDto);
    expect({ ...card, extra_info: { ...card.extra_info } }).toEqual(cardBody());
  });

  it.each<[string, unknown]>([
    ['null', null],
    ['undefined', undefined],
    ['an array', [cardBody()]],
    ['a string', JSON.stringify(cardBody())],
    ['a number', 42],
    ['a boolean', true],
  ])('refuses %s as the body', async (_name, body) => {
    expect(violations(await checkContract(CreateCardDto, body))).toEqual([{ field: 'body', message: 'body must be a JSON object' }]);
  });

  describe('per-field checks name the field', () => {
    it.each<[string, Record<string, unknown>, string]>([
      ['title of the wrong type', cardBody({ title: 5 }), 'title'],
      ['title missing', without(cardBody(), 'title'), 'title'],
      ['title empty', cardBody({ title: '' }), 'title'],
      ['notice over 15 characters', cardBody({ notice: 'x'.repeat(16) }), 'notice'],
      ['card_type as a string', cardBody({ card_type: '1' }), 'card_type'],
      ['card_type missing', without(cardBody(), 'card_type'), 'card_type'],
      ['card_type 5', cardBody({ card_type: 5 }), 'card_type'],
      ['date_type null', cardBody({ date_type: null }), 'date_type'],
      ['total_quantity missing', without(cardBody(), 'total_quantity'), 'total_quantity'],
      ['total_quantity over 10 million', cardBody({ total_quantity: 10_000_001 }), 'total_quantity'],
      ['begin_time not whole', cardBody({ begin_time: 1655481600.5 }), 'begin_time'],
      ['day_end_time past the day', cardBody({ day_end_time: 86400 }), 'day_end_time'],
      ['cash_amount with 3 decimals', cardBody({ cash_amount: 10.005 }), 'cash_amount'],
      ['generate_file not http(s)', cardBody({ generate_file: 'ftp://example.com/codes.csv' }), 'generate_file'],
      ['can_give_friend as a string', cardBody({ can_give_friend: 'yes' }), 'can_give_friend'],
      ['extra_info a string', cardBody({ extra_info: 'red' }), 'extra_info'],
      ['extra_info.bg_color of the wrong type', cardBody({ extra_info: { bg_color: 5 } }), 'extra_info.bg_color'],
      ['extra_info.jump_now_path too long', cardBody({ extra_info: { jump_now_path: 'x'.repeat(257) } }), 'extra_info.jump_now_path'],
    ])('%s -> %s', async (_name, body, field) => {
      const found = violations(await checkContract(CreateCardDto, body));
      expect(found.map((v) => v.field)).toEqual([field]);
      expect(found[0].message.startsWith(field)).toBe(true);
    });

    it.each<[string, Record<string, unknown>, Violation]>([
      ['card_type outside the list', { card_type: 9 }, { field: 'card_type', message: 'card_type must be one of the following values: 0, 1, 2, 3, 4' }],
      ['discount over 1', { discount: 1.5 }, { field: 'discount', message: 'discount must not be greater than 1' }],
      ['total_quantity negative', { total_quantity: -1 }, { field: 'total_quantity', message: 'total_quantity must not be less than 0' }],
      ['generate_file not http(s)', { generate_file: 'file:///etc/passwd' }, { field: 'generate_file', message: 'generate_file must be an http(s) URL' }],
      ['can_give_friend as a string', { can_give_friend: 'true' }, { field: 'can_give_friend', message: 'can_give_friend must be a boolean value' }],
      ['extra_info a string', { extra_info: 'red' }, { field: 'extra_info', message: 'extra_info must be an object' }],
      [
        'extra_info.bg_color too long',
        { extra_info: { bg_color: '#'.repeat(33) } },
        { field: 'extra_info.bg_color', message: 'extra_info.bg_color must be shorter than or equal to 32 characters' },
      ],
    ])('%s -> %j', async (_name, over, violation) => {
      expect(violations(await checkContract(CreateCardDto, cardBody(over)))).toEqual([violation]);
    });

    it.each<[string, Record<string, unknown>, Violation]>([
      ['title missing', without(cardBody(), 'title'), { field: 'title', message: 'title must be a string' }],
      ['title a number', cardBody({ title: 5 }), { field: 'title', message: 'title must be a string' }],
      ['total_quantity as text', cardBody({ total_quantity: '5' }), { field: 'total_quantity', message: 'total_quantity must be an integer number' }],
      ['card_type missing', without(cardBody(), 'card_type'), { field: 'card_type', message: 'card_type must be an integer number' }],
    ])('names the first failing check as declared: %s', async (_name, body, violation) => {
      expect(violations(await checkContract(CreateCardDto, body))).toEqual([violation]);
    });

    it('reports every bad field, one violation each', async () => {
      const found = violations(await checkContract(CreateCardDto, cardBody({ title: 5, source: 3, extra_info: { bg_color: 5 } })));
      expect(found.map((v) => v.field).sort()).toEqual(['extra_info.bg_color', 'source', 'title']);
    });
  });

  describe('the dayend_time alias', () => {
    it('fills day_end_time when it is absent, and is not kept', async () => {
      const card = value(await checkContract(CreateCardDto, without(cardBody({ dayend_time: 3600 }), 'day_end_time')));
      expect(card.day_end_time).toBe(3600);
      expect('dayend_time' in card).toBe(false);
    });

    it('does not override day_end_time', async () => {
      const card = value(await checkContract(CreateCardDto, cardBody({ dayend_time: 3600 })));
      expect(card.day_end_time).toBe(86399);
    });

    it('is checked as day_end_time', async () => {
      const body = without(cardBody({ dayend_time: 86400 }), 'day_end_time');
      expect(violations(await checkContract(CreateCardDto, body))).toEqual([{ field: 'day_end_time', message: 'day_end_time must not be greater than 86399' }]);
    });

    it('takes part in the cross-field rules', async () => {
      const body = without(cardBody({ day_begin_time: 7200, dayend_time: 3600 }), 'day_end_time');
      expect(violations(await checkContract(CreateCardDto, body))).toEqual([
        { field: 'day_end_time', message: 'day_end_time must not be before day_begin_time' },
      ]);
    });
  });

  describe('whitelist', () => {
    it('strips unknown fields, nested ones too', async () => {
      const card = value(await checkContract(CreateCardDto, cardBody({ crm_id: 'other_tenant', coupon_id: 7, extra_info: { bg_color: '#fff', evil: 'x' } })));
      expect('crm_id' in card).toBe(false);
      expect('coupon_id' in card).toBe(false);
      expect({ ...card.extra_info }).toEqual({ bg_color: '#fff' });
    });

    it('keeps crm_id on the service side contract, and requires it there', async () => {
      expect(value(await checkContract(CreateCardMsg, cardBody({ crm_id: 'instance_id22222222' }))).crm_id).toBe('instance_id22222222');
      expect(violations(await checkContract(CreateCardMsg, cardBody())).map((v) => v.field)).toEqual(['crm_id']);
      expect(violations(await checkContract(CreateCardMsg, cardBody({ crm_id: 'a/b' })))).toEqual([
        { field: 'crm_id', message: 'crm_id must be 1-32 letters, digits, _ or -' },
      ]);
    });
  });

  describe('cross-field rules', () => {
    it.each<[string, Record<string, unknown>, string[]]>([
      ['cash voucher with cash_amount 0', { card_type: 0, cash_amount: 0 }, ['cash_amount']],
      ['discount card with discount 0', { discount: 0 }, ['discount']],
      ['end_time before begin_time', { begin_time: 1655740799, end_time: 1655481600 }, ['end_time']],
      ['date_type 2 without counts', { date_type: 2 }, ['start_day_count', 'expire_day_count']],
      ['weekday 7', { weekdays: '7' }, ['weekdays']],
      ['monthday repeated', { monthdays: '1,1' }, ['monthdays']],
      ['percentage cost 150', { cost_type: 2, cost_value: 150 }, ['cost_value']],
      ['imported codes without a file', { generate_type: 2, total_quantity: 10 }, ['generate_file']],
    ])('%s -> %j', async (_name, over, fields) => {
      expect(violations(await checkContract(CreateCardDto, cardBody(over))).map((v) => v.field)).toEqual(fields);
    });

    it('run only after the per-field checks pass', async () => {
      const broken = { card_type: 0, cash_amount: 0, weekdays: '9' };
      expect(violations(await checkContract(CreateCardDto, cardBody({ ...broken, title: 5 }))).map((v) => v.field)).toEqual(['title']);
      expect(violations(await checkContract(CreateCardDto, cardBody(broken))).map((v) => v.field)).toEqual(['cash_amount', 'weekdays']);
    });

    it('a per-field failure on a field a rule also checks gives only the per-field message', async () => {
      expect(violations(await checkContract(CreateCardDto, cardBody({ discount: -0.5 })))).toEqual([
        { field: 'discount', message: 'discount must not be less than 0' },
      ]);
    });
  });

  describe('input no contract takes', () => {
    it.each<[string, Record<string, unknown>, Violation]>([
      ['a NUL in a field', cardBody({ title: 'a\u0000b' }), { field: 'title', message: 'title must not contain the NUL character' }],
      [
        'a NUL in a nested field',
        cardBody({ extra_info: { bg_color: '\u0000' } }),
        { field: 'extra_info.bg_color', message: 'extra_info.bg_color must not contain the NUL character' },
      ],
      ['a NUL in an unknown field', cardBody({ note: 'x\u0000' }), { field: 'note', message: 'note must not contain the NUL character' }],
    ])('%s', async (_name, body, violation) => {
      expect(violations(await checkContract(CreateCardDto, body))).toEqual([violation]);
    });

    it('refuses deep nesting without walking it (no stack overflow)', async () => {
      let deep: unknown = 'x';
      for (let i = 0; i < 100_000; i++) deep = [deep];
      expect(violations(await checkContract(CreateCardDto, cardBody({ extra_info: deep })))).toEqual([
        { field: 'body', message: 'body is nested deeper than 16 levels' },
      ]);
    });

    it('takes nesting up to the limit', async () => {
      let deep: unknown = 'x';
      for (let i = 0; i < 14; i++) deep = [deep];
      expect(violations(await checkContract(CreateCardDto, cardBody({ extra_info: { bg_color: deep } })))).toEqual([
        { field: 'extra_info.bg_color', message: 'extra_info.bg_color must be a string' },
      ]);
    });
  });

  describe('ListCardsQueryDto (query strings)', () => {
    it('turns number strings into numbers', async () => {
      const query = value(await checkContract(ListCardsQueryDto, { page_id: '2', page_size: '100', card_type: '0', source: '1', scene: 'web' }));
      expect(query).toBeInstanceOf(ListCardsQueryDto);
      expect({ ...query }).toStrictEqual({ page_id: 2, page_size: 100, card_type: 0, source: 1, scene: 'web' });
    });

    it('accepts no filters at all', async () => {
      expect(value(await checkContract(ListCardsQueryDto, {}))).toEqual({});
    });

    it.each<[Record<string, unknown>, Violation]>([
      [{ page_size: '101' }, { field: 'page_size', message: 'page_size must not be greater than 100' }],
      [{ page_size: 101 }, { field: 'page_size', message: 'page_size must not be greater than 100' }],
      [{ page_size: '0' }, { field: 'page_size', message: 'page_size must not be less than 1' }],
      [{ page_id: '0' }, { field: 'page_id', message: 'page_id must not be less than 1' }],
      [{ page_id: '1.5' }, { field: 'page_id', message: 'page_id must be an integer number' }],
      [{ card_type: '5' }, { field: 'card_type', message: 'card_type must be one of the following values: 0, 1, 2, 3, 4' }],
      [{ source: '3' }, { field: 'source', message: 'source must be one of the following values: 1, 2' }],
      [{ scene: 'x'.repeat(65) }, { field: 'scene', message: 'scene must be shorter than or equal to 64 characters' }],
    ])('%j -> %j', async (query, violation) => {
      expect(violations(await checkContract(ListCardsQueryDto, query))).toEqual([violation]);
    });

    it.each([['abc'], ['0x10'], ['1e2'], [' 5'], ['ten']])('page_size %j is not a whole number', async (pageSize) => {
      expect(violations(await checkContract(ListCardsQueryDto, { page_size: pageSize }))).toEqual([
        { field: 'page_size', message: 'page_size must be an integer number' },
      ]);
    });

    it.each([['abc'], [''], ['ten'], [['1', '2']]])('page_size %j is not a number -> page_size', async (pageSize) => {
      expect(violations(await checkContract(ListCardsQueryDto, { page_size: pageSize })).map((v) => v.field)).toEqual(['page_size']);
    });

    it('names every bad field', async () => {
      const found = violations(await checkContract(ListCardsQueryDto, { page_id: '0', page_size: '101' }));
      expect(found.map((v) => v.field).sort()).toEqual(['page_id', 'page_size']);
    });
  });

  describe('ImportCodesDto', () => {
    const importBody = (over: Record<string, unknown> = {}) => ({ card_id: 'c1', generate_id: 'import-2022-06-01', codes: ['A1B2C3D4', 'A1B2C3D5'], ...over });

    it('accepts codes, leaving their screening to the rules', async () => {
      expect({ ...value(await checkContract(ImportCodesDto, importBody({ codes: ['A1B2C3D4', 'x', 'x'] }))) }).toStrictEqual(
        importBody({ codes: ['A1B2C3D4', 'x', 'x'] }),
      );
    });

    it.each<[string, Record<string, unknown>, Violation]>([
      ['no codes', { codes: [] }, { field: 'codes', message: 'codes must contain at least 1 elements' }],
      ['10,001 codes', { codes: Array(10_001).fill('A1B2C3D4') }, { field: 'codes', message: 'codes must contain no more than 10000 elements' }],
      [
        'a code over 256 characters',
        { codes: ['x'.repeat(257)] },
        { field: 'codes', message: 'codes: each value in codes must be shorter than or equal to 256 characters' },
      ],
      ['a bad generate_id', { generate_id: 'import 1' }, { field: 'generate_id', message: 'generate_id must be 1-64 letters, digits, _ . : or -' }],
      ['an empty card_id', { card_id: '' }, { field: 'card_id', message: 'card_id must be longer than or equal to 1 characters' }],
    ])('%s -> %j', async (_name, over, violation) => {
      expect(violations(await checkContract(ImportCodesDto, importBody(over)))).toEqual([violation]);
    });

    it.each<[string, unknown]>([
      ['a number among the codes', ['A1B2C3D4', 5]],
      ['codes as one string', 'A1B2C3D4'],
      ['codes missing', undefined],
    ])('%s -> codes', async (_name, codes) => {
      expect(violations(await checkContract(ImportCodesDto, importBody({ codes }))).map((v) => v.field)).toEqual(['codes']);
    });

    it('no generate_id -> generate_id', async () => {
      expect(violations(await checkContract(ImportCodesDto, importBody({ generate_id: undefined }))).map((v) => v.field)).toEqual(['generate_id']);
    });
  });

  describe('AddStockDto', () => {
    it.each([
      [{ card_id: 'c1', quantity: 8888 }],
      [{ card_id: 'c1', quantity: 1, generate_id: 'orfhnsiwqfiwjoifw' }],
      [{ card_id: 'c1', quantity: 10_000_000, generate_id: 'a.b:c-d_e' }],
    ])('accepts %j', async (body) => {
      expect(value(await checkContract(AddStockDto, body))).toEqual(body);
    });

    it.each<[Record<string, unknown>, Violation]>([
      [
        { card_id: 'c1', quantity: 0 },
        { field: 'quantity', message: 'quantity must not be less than 1' },
      ],
      [
        { card_id: 'c1', quantity: 10_000_001 },
        { field: 'quantity', message: 'quantity must not be greater than 10000000' },
      ],
      [
        { card_id: 'c1', quantity: 1.5 },
        { field: 'quantity', message: 'quantity must be an integer number' },
      ],
      [
        { card_id: 'c1', quantity: 5, generate_id: 'a b' },
        { field: 'generate_id', message: 'generate_id must be 1-64 letters, digits, _ . : or -' },
      ],
      [
        { card_id: 'c1', quantity: 5, generate_id: 'x'.repeat(65) },
        { field: 'generate_id', message: 'generate_id must be 1-64 letters, digits, _ . : or -' },
      ],
    ])('%j -> %j', async (body, violation) => {
      expect(violations(await checkContract(AddStockDto, body))).toEqual([violation]);
    });

    it.each<[Record<string, unknown>, string]>([
      [{ card_id: 'c1', quantity: '5' }, 'quantity'],
      [{ card_id: 'c1' }, 'quantity'],
      [{ quantity: 5 }, 'card_id'],
      [{ card_id: 7, quantity: 5 }, 'card_id'],
    ])('%j -> %s (a body number is not coerced)', async (body, field) => {
      expect(violations(await checkContract(AddStockDto, body)).map((v) => v.field)).toEqual([field]);
    });
  });

  describe('IssueKeyDto', () => {
    it.each([['admin'], ['client']])('accepts scope %s', async (scope) => {
      expect(value(await checkContract(IssueKeyDto, { scope })).scope).toBe(scope);
    });

    it.each([[{ scope: 'root' }], [{ scope: 'ADMIN' }], [{}], [{ role: 'admin' }]])('%j -> scope', async (body) => {
      expect(violations(await checkContract(IssueKeyDto, body))).toEqual([
        { field: 'scope', message: 'scope must be one of the following values: admin, client' },
      ]);
    });
  });
});
