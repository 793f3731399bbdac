/** Answer examples for the OpenAPI document, from the spec. */
const envelope = (msg: string, data?: unknown) => ({ schema: { example: data === undefined ? { code: 0, msg } : { code: 0, msg, data } } });

const event = {
  auto_id: 27,
  crm_id: '10080',
  member_no: 'ec_18165fd7455_JGhyfyLmX',
  event_no: 'add20220615202826397549953512',
  origin_event_no: null,
  from_transfer_no: null,
  action_scene: 'order_pay',
  event_type: 'produce',
  reverse_status: 0,
  points: 30,
  event_at: '2022-06-16 11:45:23',
  expire_time: '2022-12-13 11:45:23',
  unfreeze_time: null,
  store_code: 'ec_mall',
  cost_center: 'cost_center001',
  campaign_code: null,
  operator: '小程序',
  event_desc: '用户多了30积分,无冻结时间',
  order_items: null,
  create_time: '2022-06-16 11:45:23',
  update_time: '2022-06-16 11:45:23',
};

export const PointsExamples = {
  produce: envelope('积分累积成功', event),
  consume: envelope('积分消耗成功', { ...event, event_type: 'consume', points: 10, expire_time: null, action_scene: 'user_discount', campaign_code: '618' }),
  reverseProduce: envelope('冲正成功', { ...event, event_no: '20220615202826397549953509', event_type: 'reverse_produce', origin_event_no: '20220615202826397549953508', points: 10, expire_time: null }),
  transfer: envelope('转赠成功', { ...event, event_no: 'EACH20220615202826397549953505', event_type: 'transfer_out', from_transfer_no: 'EACH20220615202826397549953505', points: 10, expire_time: null }),
  reverseConsume: envelope('冲正成功', { ...event, event_no: '20220615202826397549953514', event_type: 'reverse_consume', origin_event_no: '20220615202826397549953513', points: 20, expire_time: null }),
  insufficient: { schema: { example: { code: 40908, msg: 'member ec_18165fd7455_JGhyfyLmX has 5 spendable points, 10 asked' } } },
  summary: envelope('OK', {
    detail_id: 26,
    crm_id: '10080',
    member_no: 'M220704308572703018',
    total_points: 100030,
    freeze_points: 0,
    expired_points: 0,
    active_points: 97799,
    used_points: 2231,
    future_expired: 0,
    create_time: '2022-07-05 15:28:24',
    update_time: '2022-07-21 16:47:53',
  }),
  history: envelope('OK', { total: 1, items: [event] }),
};
