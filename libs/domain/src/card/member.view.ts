/** Times are `YYYY-MM-DD HH:mm:ss` in the tenant's zone; null where the spec shows null. */

/** A code given by a claim (the answer of receive). */
export interface ClaimedCodeView {
  card_id: string;
  card_code: string;
  start_time: string;
  end_time: string | null;
}

/** A member's code (spec: t_member_card_code; card_list, card_detail, receive_detail's card_info). */
export interface MemberCodeView {
  auto_id: number;
  crm_id: string;
  /** The spec's receive_detail calls the tenant instance_id. */
  instance_id: string;
  received_id: string;
  card_id: string;
  member_no: string;
  card_code: string;
  start_time: string;
  end_time: string | null;
  out_str: string;
  /** 1 usable, 2 being gifted, 3 redeemed, 4 expired (also before the sweep has marked it), 5 void, 6 given away. */
  code_status: number;
  received_time: string;
  redeem_time: string | null;
  present_time: string | null;
  expired_time: string | null;
  obsoleted_time: string | null;
  /** 0 claimed, 1 received as a gift. */
  receive_type: number;
  is_reversed: number;
  create_time: string;
  update_time: string;
}

/** The pool row of a code (receive_detail's card_code). */
export interface PoolCodeView {
  auto_id: number;
  crm_id: string;
  card_code: string;
  card_id: string;
  member_no: string | null;
  card_code_status: number;
  card_code_preuse_status: number;
  create_time: string;
  update_time: string;
}

export interface ReceiveDetailItem {
  card_code: PoolCodeView;
  card_info: MemberCodeView;
}

/** A gift (spec: t_member_present_record). */
export interface PresentView {
  auto_id: number;
  crm_id: string;
  instance_id: string;
  from_member_no: string;
  to_member_no: string | null;
  card_id: string;
  card_code: string;
  present_id: string;
  present_extra: string;
  present_time: string;
  received_time: string | null;
  go_back_time: string | null;
  create_time: string;
  update_time: string;
}

/** A redemption (spec: t_member_redeem_card_code). */
export interface RedeemView {
  auto_id: number;
  crm_id: string;
  redeem_id: string;
  card_id: string;
  member_no: string;
  card_code: string;
  redeem_channel: string;
  redeem_extra: string;
  redeem_time: string;
  rollback_status: number;
  rollback_time: string | null;
}

export interface Page<T> {
  total: number;
  result: T[];
}

/**
 * What present answered when it made the gift: the record before anyone accepted it or it
 * went back. A repeat of the request gets this same answer, whatever became of the gift
 * since (present_detail tells its state).
 */
export function originalPresent(p: PresentView): PresentView {
  return { ...p, to_member_no: null, received_time: null, go_back_time: null, update_time: p.create_time };
}

/** What redeem answered: the redemption before any rollback. A repeat gets this same answer. */
export function originalRedeem(r: RedeemView): RedeemView {
  return { ...r, rollback_status: 0, rollback_time: null };
}

/** What present_receive answered: the friend's new row, usable, as it was when accepted. A repeat gets this same answer. */
export function originalGiftRow(c: MemberCodeView): MemberCodeView {
  return { ...c, code_status: 1, redeem_time: null, present_time: null, obsoleted_time: null, is_reversed: 0, update_time: c.create_time };
}
