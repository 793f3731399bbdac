/** Services reachable over the transport; each has one request stream. */
export const Service = {
  CARD: 'card',
  POINTS: 'points',
  DASHBOARD: 'dashboard',
  WEBHOOK: 'webhook',
} as const;
export type ServiceName = (typeof Service)[keyof typeof Service];

/** Message patterns. Gateway and service import the same constants. */
export const CardPattern = {
  PING: 'card.ping',
  CREATE: 'card.create',
  DETAIL: 'card.detail',
  LIST: 'card.list',
  REMOVE: 'card.remove',
  ADD_STOCK: 'card.stock.add',
  STOCK_STATUS: 'card.stock.status',
  IMPORT_CODES: 'card.stock.import',
  /** A page of a tenant's card facts, for the dashboard's rebuild (CardFactsMsg -> CardFactsPage). */
  EVENT_FACTS: 'card.event_facts',
} as const;

/** What members do with codes: claim, gift, redeem, reverse, void, and their reads. */
export const MemberPattern = {
  RECEIVE: 'card.member.receive',
  RECEIVE_DETAIL: 'card.member.receive_detail',
  RECEIVE_REVERSE: 'card.member.receive_reverse',
  PRESENT: 'card.member.present',
  PRESENT_RECEIVE: 'card.member.present_receive',
  PRESENT_LIST: 'card.member.present_list',
  PRESENT_DETAIL: 'card.member.present_detail',
  CARD_LIST: 'card.member.card_list',
  CARD_DETAIL: 'card.member.card_detail',
  REDEEM: 'card.member.redeem',
  REDEEM_REVERSE: 'card.member.redeem_reverse',
  OBSOLETE: 'card.member.obsolete',
} as const;

export const PointsPattern = {
  PING: 'points.ping',
  PRODUCE_DIRECT: 'points.produce.direct',
  CONSUME_DIRECT: 'points.consume.direct',
  REVERSE_CONSUME: 'points.reverse.consume',
  REVERSE_PRODUCE: 'points.reverse.produce',
  TRANSFER_DIRECT: 'points.transfer.direct',
  /** A points event into the inbox, applied later (points-inbox.ts). */
  ENQUEUE: 'points.enqueue',
  TRANSFER: 'points.transfer',
  ACCEPT: 'points.accept',
  PRODUCE_BY_RULE: 'points.produce.by_rule',
  RULE_CREATE: 'points.rule.create',
  RULE_LIST: 'points.rule.list',
  RULE_UPDATE: 'points.rule.update',
  RULE_DISABLE: 'points.rule.disable',
  SUMMARY: 'points.summary',
  HISTORY: 'points.history',
} as const;

export const DashboardPattern = {
  PING: 'dashboard.ping',
  CARD_TREND: 'dashboard.card_trend',
  CARD_CHANNEL: 'dashboard.card_channel',
  CARD_TOP: 'dashboard.card_top',
} as const;

/** Webhook subscriptions, their deliveries, and the events the services hand over (see webhooks.ts). */
export const WebhookPattern = {
  PING: 'webhook.ping',
  /** A service's forwarder hands over events of its outbox (WebhookIngestMsg -> WebhookIngestReply). */
  INGEST: 'webhook.ingest',
  CREATE: 'webhook.create',
  LIST: 'webhook.list',
  DETAIL: 'webhook.detail',
  UPDATE: 'webhook.update',
  DISABLE: 'webhook.disable',
  ENABLE: 'webhook.enable',
  DELETE: 'webhook.delete',
  ROTATE_SECRET: 'webhook.rotate_secret',
  DELIVERIES: 'webhook.deliveries',
  RETRY: 'webhook.delivery.retry',
  REPLAY: 'webhook.replay',
} as const;

/** What every service answers to its ping: who it is and that its database answers. */
export interface PingReply {
  service: ServiceName;
  instance: string;
  database: 'up' | 'down';
}
