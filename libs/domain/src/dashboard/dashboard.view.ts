/**
 * Answers of the coupon dashboard (spec: 卡券看板). Every `_list` lines up with `tdate`
 * index by index; totals are for the whole range. Member counts are distinct members.
 */
export interface CardTrendView {
  receive_num: number;
  receive_member_num: number;
  receive_num_list: number[];
  receive_member_num_list: number[];
  /** Not in the spec's example (it forgot the redemption total). */
  redeem_num: number;
  redeem_member_num: number;
  redeem_num_list: number[];
  redeem_member_num_list: number[];
  /** Gifts given; members = givers. */
  present_num: number;
  present_member_num: number;
  present_num_list: number[];
  present_member_num_list: number[];
  /** Every day of the range, `YYYY-MM-DD`, tenant zone. */
  tdate: string[];
}

export interface CardChannelView {
  receive_channel_list: Array<{ channel_name: string; receive_num: number }>;
  redeem_channel_list: Array<{ channel_name: string; redeem_num: number }>;
}

export interface CardTopView {
  receive_top: Array<{ card_id: string; title: string; receive_num: number }>;
  /** `receive_num` is the spec's name of the redemption count here; `redeem_num` carries the same number. */
  redeem_top: Array<{ card_id: string; title: string; receive_num: number; redeem_num: number }>;
}
