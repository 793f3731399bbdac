/** Points travel as numbers in answers (at most 4 decimal places, exact in the ledger). Times: `YYYY-MM-DD HH:mm:ss` in the tenant's zone. */

/** One journal row (spec: history items). */
export interface PointsEventView {
  auto_id: number;
  crm_id: string;
  member_no: string;
  event_no: string;
  origin_event_no: string | null;
  from_transfer_no: string | null;
  action_scene: string | null;
  event_type: string;
  reverse_status: number;
  /** The order's pay_amount where the event carried one (order_info / order_items), else null. */
  amount: number | null;
  points: number;
  event_at: string;
  expire_time: string | null;
  unfreeze_time: string | null;
  store_code: string | null;
  cost_center: string | null;
  campaign_code: string | null;
  operator: string | null;
  event_desc: string | null;
  order_items: unknown;
  /** A transfer's trans_type as the sender gave it (on its transfer_out, transfer_in and transfer_back rows), else null. */
  trans_type: string | null;
  create_time: string;
  update_time: string;
}

/** A member's points now (spec: summary). total = active + freeze + expired + used. */
export interface PointsSummaryView {
  detail_id: number | null;
  crm_id: string;
  member_no: string;
  total_points: number;
  freeze_points: number;
  expired_points: number;
  active_points: number;
  used_points: number;
  /** Active points that expire within 7 days. */
  future_expired: number;
  create_time: string | null;
  update_time: string | null;
}
