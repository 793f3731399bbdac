import { NewEvent } from './ledger.repository';

/**
 * Decimal text of an amount that passed validation (a JSON number with at most 4 decimal
 * places): its shortest representation is its exact decimal value. Arithmetic happens in
 * PostgreSQL numeric (or decimal.js) only.
 */
export const decimal = (points: number): string => {
  const text = String(points);
  if (!/^\d+(\.\d{1,4})?$/.test(text)) throw new Error(`points ${text} is not a plain decimal with at most 4 places`);
  return text;
};

/** What the event says; the rest of a journal row is null (or set later, under the member's lock). */
type EventCore = Pick<NewEvent, 'crm_id' | 'event_no' | 'member_no' | 'event_type' | 'points' | 'event_at'>;

/** The one way to make a journal row to write: the event's own fields, every other one null. */
export function newEvent(e: EventCore & Partial<NewEvent>): NewEvent {
  return {
    expire_time: null,
    unfreeze_time: null,
    action_scene: null,
    store_code: null,
    cost_center: null,
    campaign_code: null,
    operator: null,
    event_desc: null,
    order_items: null,
    origin_event_no: null,
    payload_hash: '',
    ...e,
  };
}

/** What makes an event's payload, in a fixed order (the order of the request's keys does not matter). */
export const eventFields = (e: NewEvent) => ({
  member_no: e.member_no,
  points: e.points,
  action_scene: e.action_scene,
  store_code: e.store_code,
  cost_center: e.cost_center,
  campaign_code: e.campaign_code,
  operator: e.operator,
  event_desc: e.event_desc,
  order_items: e.order_items,
});
