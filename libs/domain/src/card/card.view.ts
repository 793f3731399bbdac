import { RejectReason } from './code.rules';

/** A card as the API answers it (spec: card detail). Times are `YYYY-MM-DD HH:mm:ss` in the tenant's zone. */
export interface CardView {
  coupon_id: number;
  crm_id: string;
  card_id: string;
  card_type: number;
  title: string;
  subtitle: string;
  source: number;
  scene: string | null;
  notice: string;
  rule: string;
  date_type: number;
  begin_time: number | null;
  end_time: number | null;
  start_day_count: number | null;
  expire_day_count: number | null;
  weekdays: string | null;
  monthdays: string | null;
  day_begin_time: number | null;
  day_end_time: number | null;
  /** The spec's list answer spells it this way; both are given. */
  dayend_time: number | null;
  total_quantity: number;
  get_limit: number;
  use_limit: number;
  can_give_friend: boolean;
  use_with_other_offer: boolean;
  use_with_other_coupon: boolean;
  qty_condition: number | null;
  generate_type: number;
  generate_file: string | null;
  cash_amount: number | null;
  cash_condition: number | null;
  discount: number | null;
  icon: string;
  store_codes: string | null;
  cost_center: string | null;
  cost_type: number | null;
  cost_value: number | null;
  extra_info: Record<string, unknown> | null;
  removed: boolean;
  create_time: string;
  update_time: string;
  generate_info: { generated: number; un_generate: number; total: number };
  receive_info: { received: number };
}

export const GenerateStatus = { PENDING: 'pending', RUNNING: 'running', DONE: 'done', FAILED: 'failed' } as const;
export type GenerateStatus = (typeof GenerateStatus)[keyof typeof GenerateStatus];

/** A stock job record (spec: `t_card_generate`, the answer of add/stock) and its progress. */
export interface GenerateView {
  auto_id: number;
  crm_id: string;
  card_id: string;
  quantity: number;
  generate_id: string;
  generate_type: number;
  is_generated: boolean;
  create_time: string;
  update_time: string;
}

export interface StockStatusView extends GenerateView {
  status: GenerateStatus;
  generated: number;
  rejected: number;
  rejected_reasons: Partial<Record<RejectReason, number>>;
  rejected_samples: Array<{ code: string; reason: RejectReason }>;
  progress: number;
  error: string | null;
}
