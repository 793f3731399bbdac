import 'reflect-metadata';
import {
  ConsumeDirectDto,
  HistoryDto,
  ProduceDirectDto,
  ReverseConsumeDto,
  ReverseProduceDto,
  RuleDto,
  ProduceByRuleDto,
  TransferDirectDto,
  Violation,
} from '@app/domain';
import { checkContract } from './contract.pipe';
import { value, violations } from './testing/contract-results';

/** The spec's produce/direct example. */
const produce = (over: Record<string, unknown> = {}) => ({
  event_no: 'EACH20220615202826397549953503',
  member_no: 'ec_18165fd7455_JGhyfyLmX',
  action_scene: 'order_pay',
  event_type: 'order',
  points: 20,
  event_at: '2022-06-15 18:00:00',
  expire_days: 180,
  freeze_hours: 0,
  store_code: 'ec_mall',
  cost_center: 'cost_center001',
  operator: '小程序',
  event_desc: '用户购买了100元酸奶',
  order_info: {},
  ...over,
});

describe('points contracts', () => {
  it('accepts the spec example of produce/direct and of consume/direct', async () => {
    expect(value(await checkContract(ProduceDirectDto, produce())).points).toBe(20);
    const consume = {
      event_no: 'EACH20220615202826397549953504',
      member_no: 'ec_18165fd7455_JGhyfyLmX',
      action_scene: 'user_discount',
      points: 10,
      event_at: '2022-06-15 18:00:00',
      store_code: 'ec_mall',
      cost_center: 'cost_center001',
      campaign_code: '618',
      operator: '积分商城',
      event_desc: '用户消耗了10个积分',
    };
    expect(value(await checkContract(ConsumeDirectDto, consume)).campaign_code).toBe('618');
  });

  it.each([[0.0001], [0.1], [1.2345], [1_000_000_000]])('takes %p points', async (points) => {
    expect(value(await checkContract(ProduceDirectDto, produce({ points }))).points).toBe(points);
  });

  it.each<[string, Record<string, unknown>, Violation]>([
    ['5 decimal places', { points: 1.23456 }, { field: 'points', message: 'points must be a number with at most 4 decimal places' }],
    ['points as text', { points: '20' }, { field: 'points', message: 'points must be a number with at most 4 decimal places' }],
    ['0 points', { points: 0 }, { field: 'points', message: 'points must not be less than 0.0001' }],
    ['negative points', { points: -5 }, { field: 'points', message: 'points must not be less than 0.0001' }],
    ['no event_no', { event_no: undefined }, { field: 'event_no', message: 'event_no must be a string' }],
    ['an event_no with a space', { event_no: 'a b' }, { field: 'event_no', message: 'event_no must be 1-64 letters, digits, _ . : or -' }],
    ['no event_type', { event_type: undefined }, { field: 'event_type', message: 'event_type must be a string' }],
    ['a date-only event_at', { event_at: '2022-06-15' }, { field: 'event_at', message: 'event_at must be YYYY-MM-DD HH:mm:ss' }],
    ['an event_at that is no real day', { event_at: '2022-02-30 10:00:00' }, { field: 'event_at', message: 'event_at is not a real date and time' }],
    ['an event_at at hour 24', { event_at: '2022-06-15 24:00:00' }, { field: 'event_at', message: 'event_at must be YYYY-MM-DD HH:mm:ss' }],
    ['expire_days 0', { expire_days: 0 }, { field: 'expire_days', message: 'expire_days must not be less than 1' }],
    ['negative freeze_hours', { freeze_hours: -1 }, { field: 'freeze_hours', message: 'freeze_hours must not be less than 0' }],
  ])('produce/direct with %s names the field', async (_what, over, violation) => {
    expect(violations(await checkContract(ProduceDirectDto, produce(over)))).toEqual([violation]);
  });

  it('reverse/consume takes the spec example, and needs origin_event_no', async () => {
    const example = {
      event_no: '20220615202826397549953514',
      member_no: 'ec_18165fd7455_JGhyfyLmX',
      origin_event_no: '20220615202826397549953513',
      reverse_points: 20,
    };
    expect(value(await checkContract(ReverseConsumeDto, example)).reverse_points).toBe(20);
    expect(violations(await checkContract(ReverseConsumeDto, { ...example, origin_event_no: undefined })).map((v) => v.field)).toEqual(['origin_event_no']);
    expect(violations(await checkContract(ReverseConsumeDto, { ...example, reverse_points: 0 })).map((v) => v.field)).toEqual(['reverse_points']);
  });

  it('reverse/produce takes the spec example, and needs allow_negative as a boolean', async () => {
    const example = {
      event_no: '20220615202826397549953509',
      member_no: 'ec_18165fd7455_JGhyfyLmX',
      origin_event_no: '20220615202826397549953508',
      allow_negative: false,
      reverse_points: 10,
    };
    expect(value(await checkContract(ReverseProduceDto, example)).allow_negative).toBe(false);
    expect(violations(await checkContract(ReverseProduceDto, { ...example, allow_negative: 'no' })).map((v) => v.field)).toEqual(['allow_negative']);
    expect(violations(await checkContract(ReverseProduceDto, { ...example, allow_negative: undefined })).map((v) => v.field)).toEqual(['allow_negative']);
  });

  it('transfer/direct takes the spec example and refuses a transfer to oneself, naming to_user', async () => {
    const example = {
      transfer_no: 'EACH20220615202826397549953505',
      from_user: 'ec_18165fd7455_JGhyfyLmX',
      to_user: 'mc_18165fd7455_JGhyfyLm2',
      trans_type: 'by_poins',
      points: 10,
    };
    expect(value(await checkContract(TransferDirectDto, example)).points).toBe(10);
    expect(violations(await checkContract(TransferDirectDto, { ...example, to_user: example.from_user }))).toEqual([
      { field: 'to_user', message: 'to_user must be another member than from_user' },
    ]);
    expect(violations(await checkContract(TransferDirectDto, { ...example, transfer_no: 'x'.repeat(61) })).map((v) => v.field)).toEqual(['transfer_no']);
  });

  it.each<[Record<string, unknown>, string[]]>([
    [{ mode: 'fixed', points: 10 }, []],
    [{ mode: 'per_amount', rate: 1, rounding: 'ceil', daily_cap: 100, total_cap: 1000 }, []],
    [{ mode: 'fixed' }, ['points']],
    [{ mode: 'per_amount' }, ['rate']],
    [{ mode: 'fixed', points: 1, rounding: 'up' }, ['rounding']],
    [{ mode: 'fixed', points: 1, starts_at: '2022-06-02 00:00:00', ends_at: '2022-06-02 00:00:00' }, ['ends_at']],
  ])('a rule %j -> violations %j', async (over, fields) => {
    const result = await checkContract(RuleDto, { action_scene: 'order_pay', name: 'r', ...over });
    expect(result.ok ? [] : result.violations.map((v) => v.field)).toEqual(fields);
  });

  it('produce/by_rule takes both spec examples, reads order_info as order_items, and checks pay_amount', async () => {
    const login = {
      event_no: 'EACH20220615202826397549953501',
      member_no: 'ec_18165fd7455_JGhyfyLmX',
      action_scene: 'user_login',
      event_type: 'event',
      store_code: 'ec_mini',
      operator: '小程序登录',
      event_desc: '用户登录了系统',
    };
    expect(value(await checkContract(ProduceByRuleDto, login)).action_scene).toBe('user_login');
    const order = {
      ...login,
      action_scene: 'order_pay',
      event_type: 'order',
      event_at: '2022-06-15 18:00:00',
      expire_days: 180,
      freeze_hours: 0,
      order_items: {},
    };
    expect(value(await checkContract(ProduceByRuleDto, order)).order_items).toEqual({});
    expect(value(await checkContract(ProduceByRuleDto, { ...login, order_info: { pay_amount: 9.9 } })).order_items).toEqual({ pay_amount: 9.9 });
    expect(violations(await checkContract(ProduceByRuleDto, { ...login, order_items: { pay_amount: -1 } })).map((v) => v.field)).toEqual([
      'order_items.pay_amount',
    ]);
  });

  it('history reads the spec spelling stroe_code as store_code, and checks the times', async () => {
    expect(value(await checkContract(HistoryDto, { stroe_code: 'ec_mall', page_size: '5' }))).toMatchObject({ store_code: 'ec_mall', page_size: 5 });
    expect(violations(await checkContract(HistoryDto, { search_type: 'refund' })).map((v) => v.field)).toEqual(['search_type']);
    expect(violations(await checkContract(HistoryDto, { start_time: '2022-13-01 00:00:00' }))).toEqual([
      { field: 'start_time', message: 'start_time is not a real date and time' },
    ]);
  });
});
