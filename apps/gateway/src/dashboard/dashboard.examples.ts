/** Answer examples for the OpenAPI document, from the spec (卡券看板). */
const envelope = (data: unknown) => ({ schema: { example: { code: 0, msg: 'ok', data } } });

export const DashboardExamples = {
  trend: envelope({
    receive_num: 201,
    receive_member_num: 150,
    receive_num_list: [100, 101],
    receive_member_num_list: [80, 90],
    redeem_num: 120,
    redeem_member_num: 100,
    redeem_num_list: [60, 60],
    redeem_member_num_list: [55, 50],
    present_num: 12,
    present_member_num: 10,
    present_num_list: [5, 7],
    present_member_num_list: [5, 6],
    tdate: ['2022-05-18', '2022-05-19'],
  }),
  channel: envelope({
    receive_channel_list: [{ channel_name: '618大促', receive_num: 122 }],
    redeem_channel_list: [{ channel_name: '微信小程序', redeem_num: 111 }],
  }),
  top: envelope({
    receive_top: [{ card_id: '21008fdbabd30c04548a56be6eed016c', title: '满100减10', receive_num: 122 }],
    redeem_top: [{ card_id: '21008fdbabd30c04548a56be6eed016d', title: '满100减10', receive_num: 111, redeem_num: 111 }],
  }),
  validation: {
    schema: {
      example: {
        code: 40001,
        msg: 'start_date: start_date must not be after end_date (2022-05-20 > 2022-05-18)',
        errors: [{ field: 'start_date', message: 'start_date must not be after end_date (2022-05-20 > 2022-05-18)' }],
      },
    },
  },
};
