/** Services reachable over the transport; each has one request stream. */
export const Service = {
  CARD: 'card',
  POINTS: 'points',
  DASHBOARD: 'dashboard',
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
} as const;

export const PointsPattern = {
  PING: 'points.ping',
} as const;

export const DashboardPattern = {
  PING: 'dashboard.ping',
} as const;

/** What every service answers to its ping: who it is and that its database answers. */
export interface PingReply {
  service: ServiceName;
  instance: string;
  database: 'up' | 'down';
}
