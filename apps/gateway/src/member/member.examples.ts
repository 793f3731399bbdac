/** Answer examples for the OpenAPI document, from the spec. */
const envelope = (msg: string, data?: unknown) => ({ schema: { example: data === undefined ? { code: 0, msg } : { code: 0, msg, data } } });
const refusal = (code: number, msg: string) => ({ schema: { example: { code, msg } } });

const code = {
  auto_id: 35,
  crm_id: 'instance_id22222222',
  instance_id: 'instance_id22222222',
  received_id: 'received_id23',
  card_id: '21008fdbabd30c04548a56be6eed016c',
  member_no: '32880aa593b144508484cb8bb8261041',
  card_code: '1428237007485665289',
  start_time: '2021-08-08 00:00:00',
  end_time: '2021-09-10 23:59:59',
  out_str: 'sim_data',
  code_status: 1,
  received_time: '2021-08-20 12:25:25',
  redeem_time: null,
  present_time: null,
  expired_time: '2021-09-10 23:59:59',
  obsoleted_time: null,
  receive_type: 0,
  is_reversed: 0,
  create_time: '2021-08-20 12:25:25',
  update_time: '2021-08-20 12:25:25',
};

const present = {
  auto_id: 1,
  crm_id: 'instance_id22222222',
  instance_id: 'instance_id22222222',
  from_member_no: '32880aa593b144508484cb8bb8261041',
  to_member_no: null,
  card_id: '21008fdbabd30c04548a56be6eed016c',
  card_code: '1428236189390864394',
  present_id: '2d5e31832df143f4b01516b835ed6763',
  present_extra: '好券分享',
  present_time: '2021-08-19 15:43:11',
  received_time: null,
  go_back_time: null,
  create_time: '2021-08-19 15:43:11',
  update_time: '2021-08-19 15:43:11',
};

const redeem = {
  auto_id: 7,
  crm_id: 'instance_id22222222',
  redeem_id: '213rf2',
  card_id: '21008fdbabd30c04548a56be6eed016c',
  member_no: '32880aa593b144508484cb8bb8261041',
  card_code: '1428237007485665289',
  redeem_channel: 'store_01',
  redeem_extra: '已核销',
  redeem_time: '2021-08-21 10:00:00',
  rollback_status: 0,
  rollback_time: null,
};

export const MemberExamples = {
  receive: envelope('领券成功', [{ card_id: code.card_id, card_code: code.card_code, start_time: code.start_time, end_time: code.end_time }]),
  outOfStock: refusal(40903, 'card 21008fdbabd30c04548a56be6eed016c is out of stock (1 asked, 0 left)'),
  receiveDetail: envelope('获取卡券领取详情成功', [
    {
      card_code: {
        auto_id: 300032,
        crm_id: code.crm_id,
        card_code: code.card_code,
        card_id: code.card_id,
        member_no: code.member_no,
        card_code_status: 1,
        card_code_preuse_status: 1,
        create_time: '2021-08-19 14:03:42',
        update_time: '2021-08-19 15:27:17',
      },
      card_info: code,
    },
  ]),
  reversed: envelope('冲正成功'),
  reverseRefused: refusal(40907, 'claim received_id23 cannot be reversed: 1428237007485665289 (redeemed)'),
  present: envelope('转增成功', present),
  presentReceive: envelope('领取成功', { ...code, received_id: present.present_id, receive_type: 1 }),
  presentList: envelope('获取用户转增记录成功', { total: 1, data: [present] }),
  presentDetail: envelope('获取用户转增记录成功', present),
  cardList: envelope('获取用户卡券列表成功', { total: 1, result: [code] }),
  cardDetail: envelope('获取卡券详情成功', code),
  redeem: envelope('核销成功', redeem),
  redeemReverse: envelope('冲正成功', { ...redeem, rollback_status: 1, rollback_time: '2021-08-21 11:00:00' }),
  notUsable: refusal(42203, 'code 1428237007485665289 is usable only between 09:00:00 and 21:00:00'),
  obsolete: envelope('作废成功', { ...code, code_status: 5, obsoleted_time: '2021-08-22 09:00:00' }),
};
