/**
 * The spec's example card (create body), with one correction: a discount card needs a
 * rate in (0, 1), so `discount` is 0.8 rather than the example's 0 (docs/api-notes.md).
 * The API docs, the tests and the benchmarks start from it.
 */
export const EXAMPLE_CARD = {
  card_type: 1,
  title: '满100减10',
  subtitle: '618满100减10',
  source: 2,
  scene: 'web',
  notice: '适用说明',
  rule: '使用须知',
  date_type: 1,
  begin_time: 1655481600,
  end_time: 1655740799,
  start_day_count: null,
  expire_day_count: null,
  weekdays: '0,1,6',
  monthdays: '1,11,18,28',
  day_begin_time: 0,
  day_end_time: 86399,
  total_quantity: 10000,
  get_limit: 0,
  use_limit: 0,
  can_give_friend: true,
  generate_type: 1,
  generate_file: null,
  cash_amount: 10,
  cash_condition: 100,
  discount: 0.8,
  icon: 'aa/bb/cc.jpg',
  store_codes: 'store_01, store_02',
  cost_center: 'NO12312513',
  cost_type: 1,
  cost_value: 2,
  extra_info: { bg_color: '#1111111', jump_now_path: '/page/card/', custom_menu_name: '卡券', menu_jump_path: '/page/custom/' },
};
