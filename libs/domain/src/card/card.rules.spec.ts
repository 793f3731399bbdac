import { EXAMPLE_CARD } from './card.example';
import { CARD_RULES, CardRuleInput, cardRuleViolations, parseDayList } from './card.rules';

/** The example card: a discount card, valid for a fixed range, that breaks no rule. */
const valid: CardRuleInput = EXAMPLE_CARD;

const fieldsOf = (over: CardRuleInput) => cardRuleViolations({ ...valid, ...over }).map((v) => v.field);

describe('parseDayList', () => {
  it.each<[string, number[] | null]>([
    ['0,1,6', [0, 1, 6]],
    ['5', [5]],
    [' 1 , 11 ,18', [1, 11, 18]],
    ['01,31', [1, 31]],
    ['1,1', [1, 1]],
    ['', null],
    ['1,', null],
    [',1', null],
    ['1,,2', null],
    ['a', null],
    ['1,x', null],
    ['-1', null],
    ['1.5', null],
    ['100', null],
    ['1;2', null],
    ['1 2', null],
  ])('%j -> %j', (text, days) => {
    expect(parseDayList(text)).toEqual(days);
  });
});

describe('CARD_RULES', () => {
  it('has one rule per documented constraint', () => {
    expect(CARD_RULES).toHaveLength(10);
  });

  it('the valid card breaks no rule', () => {
    expect(cardRuleViolations(valid)).toEqual([]);
    expect(CARD_RULES.map((rule) => rule(valid))).toEqual(Array(10).fill(null));
  });

  it('an empty input breaks no rule (every rule is about a field that is there)', () => {
    expect(cardRuleViolations({})).toEqual([]);
  });

  it.each<[string, CardRuleInput, string[]]>([
    // cash voucher
    ['cash voucher without cash_amount', { card_type: 0, cash_amount: undefined }, ['cash_amount']],
    ['cash voucher with cash_amount null', { card_type: 0, cash_amount: null }, ['cash_amount']],
    ['cash voucher with cash_amount 0', { card_type: 0, cash_amount: 0 }, ['cash_amount']],
    ['cash voucher with negative cash_amount', { card_type: 0, cash_amount: -5 }, ['cash_amount']],
    // discount
    ['discount card without discount', { discount: undefined }, ['discount']],
    ['discount card with discount null', { discount: null }, ['discount']],
    ['discount 0', { discount: 0 }, ['discount']],
    ['discount 1', { discount: 1 }, ['discount']],
    ['discount 1.5', { discount: 1.5 }, ['discount']],
    ['discount -0.1', { discount: -0.1 }, ['discount']],
    // fixed date range
    ['date_type 1 without begin_time', { begin_time: undefined }, ['begin_time']],
    ['date_type 1 with begin_time null', { begin_time: null }, ['begin_time']],
    ['date_type 1 without end_time', { end_time: null }, ['end_time']],
    ['date_type 1 without either time', { begin_time: null, end_time: null }, ['begin_time']],
    ['begin_time equal to end_time', { begin_time: 1655481600, end_time: 1655481600 }, ['end_time']],
    ['begin_time after end_time', { begin_time: 1655740799, end_time: 1655481600 }, ['end_time']],
    // relative dates
    ['date_type 2 without start_day_count', { date_type: 2, start_day_count: null, expire_day_count: 7 }, ['start_day_count']],
    ['date_type 2 without expire_day_count', { date_type: 2, start_day_count: 0, expire_day_count: undefined }, ['expire_day_count']],
    ['date_type 2 with expire_day_count 0', { date_type: 2, start_day_count: 0, expire_day_count: 0 }, ['expire_day_count']],
    ['date_type 2 with neither count', { date_type: 2 }, ['start_day_count', 'expire_day_count']],
    // weekdays
    ['weekday 7', { weekdays: '0,7' }, ['weekdays']],
    ['weekday -1', { weekdays: '-1' }, ['weekdays']],
    ['weekdays not a list', { weekdays: 'mon,tue' }, ['weekdays']],
    ['weekdays with a trailing comma', { weekdays: '1,2,' }, ['weekdays']],
    ['weekdays blank', { weekdays: ' ' }, ['weekdays']],
    ['weekday repeated', { weekdays: '1,2,1' }, ['weekdays']],
    // monthdays
    ['monthday 0', { monthdays: '0,1' }, ['monthdays']],
    ['monthday 32', { monthdays: '31,32' }, ['monthdays']],
    ['monthday repeated', { monthdays: '11,1,11' }, ['monthdays']],
    ['monthdays separated by ;', { monthdays: '1;2' }, ['monthdays']],
    // time of day
    ['day_begin_time after day_end_time', { day_begin_time: 3601, day_end_time: 3600 }, ['day_end_time']],
    // cost
    ['percentage cost over 100', { cost_type: 2, cost_value: 100.01 }, ['cost_value']],
    ['percentage cost 101', { cost_type: 2, cost_value: 101 }, ['cost_value']],
    // imported codes
    ['imported codes without generate_file', { generate_type: 2, generate_file: null, total_quantity: 10 }, ['generate_file']],
    ['imported codes, generate_file missing', { generate_type: 2, generate_file: undefined, total_quantity: 1 }, ['generate_file']],
    // several at once, in rule order
    [
      'several rules at once',
      { card_type: 0, cash_amount: 0, begin_time: 2, end_time: 1, weekdays: '9', cost_type: 2, cost_value: 200 },
      ['cash_amount', 'end_time', 'weekdays', 'cost_value'],
    ],
  ])('%s -> %j', (_name, over, fields) => {
    expect(fieldsOf(over)).toEqual(fields);
  });

  it.each<[string, CardRuleInput]>([
    ['cash voucher with cash_amount 10', { card_type: 0, cash_amount: 10, discount: null }],
    ['cash voucher with cash_amount 0.01', { card_type: 0, cash_amount: 0.01 }],
    ['discount 0.01', { discount: 0.01 }],
    ['discount 0.99', { discount: 0.99 }],
    ['exchange card needs neither cash_amount nor discount', { card_type: 2, cash_amount: null, discount: null }],
    ['free shipping card', { card_type: 3, cash_amount: 0, discount: 0 }],
    ['gift card', { card_type: 4, cash_amount: null, discount: null }],
    ['discount card ignores cash_amount', { card_type: 1, cash_amount: 0 }],
    ['begin_time 0 before end_time', { begin_time: 0, end_time: 1 }],
    ['date_type 2, starting on the claim day', { date_type: 2, begin_time: null, end_time: null, start_day_count: 0, expire_day_count: 1 }],
    ['date_type 2, starting 3 days later', { date_type: 2, start_day_count: 3, expire_day_count: 30 }],
    ['date_type 3 needs no dates', { date_type: 3, begin_time: null, end_time: null, start_day_count: null, expire_day_count: null }],
    ['weekdays 0 to 6', { weekdays: '0,1,2,3,4,5,6' }],
    ['weekdays with spaces', { weekdays: ' 0 , 6 ' }],
    ['weekdays empty (no restriction)', { weekdays: '' }],
    ['weekdays null', { weekdays: null }],
    ['monthdays 1 and 31', { monthdays: '1,31' }],
    ['monthdays empty (no restriction)', { monthdays: '' }],
    ['monthdays null', { monthdays: null }],
    ['day_begin_time equal to day_end_time', { day_begin_time: 3600, day_end_time: 3600 }],
    ['only day_begin_time', { day_begin_time: 86399, day_end_time: null }],
    ['only day_end_time', { day_begin_time: undefined, day_end_time: 0 }],
    ['percentage cost 100', { cost_type: 2, cost_value: 100 }],
    ['percentage cost 0', { cost_type: 2, cost_value: 0 }],
    ['percentage without cost_value', { cost_type: 2, cost_value: null }],
    ['fixed cost over 100', { cost_type: 1, cost_value: 5000 }],
    ['no cost_type, cost_value over 100', { cost_type: null, cost_value: 5000 }],
    ['imported codes with generate_file', { generate_type: 2, generate_file: 'https://example.com/codes.csv', total_quantity: 10 }],
    ['imported codes, total_quantity 0 (import later)', { generate_type: 2, generate_file: null, total_quantity: 0 }],
    ['imported codes, total_quantity missing', { generate_type: 2, generate_file: null, total_quantity: undefined }],
    ['system codes need no generate_file', { generate_type: 1, generate_file: null, total_quantity: 10 }],
  ])('%s -> no violation', (_name, over) => {
    expect(cardRuleViolations({ ...valid, ...over })).toEqual([]);
  });

  it('each violation carries a readable message', () => {
    expect(cardRuleViolations({ ...valid, card_type: 0, cash_amount: 0 })).toEqual([
      { field: 'cash_amount', message: 'cash_amount must be greater than 0 for a cash voucher (card_type 0)' },
    ]);
    expect(cardRuleViolations({ ...valid, weekdays: '1,1' })).toEqual([{ field: 'weekdays', message: 'weekdays lists a day twice' }]);
    expect(cardRuleViolations({ ...valid, monthdays: '32' })).toEqual([
      { field: 'monthdays', message: 'monthdays must be a comma-separated list of days of the month from 1 to 31' },
    ]);
  });
});
