/**
 * The one table of error codes. Every failure that leaves the suite carries one of
 * these codes in the envelope, and the gateway answers with the matching HTTP status.
 */
export const ErrorCode = {
  OK: 0,
  VALIDATION: 40001,
  PAYLOAD_TOO_LARGE: 41301,
  UNAUTHORIZED: 40101,
  FORBIDDEN: 40301,
  NOT_FOUND: 40401,
  CARD_NOT_FOUND: 40402,
  GENERATE_NOT_FOUND: 40403,
  ROUTE_NOT_FOUND: 40404,
  CODE_NOT_FOUND: 40405,
  PRESENT_NOT_FOUND: 40406,
  RECEIVE_NOT_FOUND: 40407,
  REDEEM_NOT_FOUND: 40408,
  EVENT_NOT_FOUND: 40409,
  RULE_NOT_FOUND: 40410,
  TRANSFER_NOT_FOUND: 40411,
  IDEMPOTENCY_CONFLICT: 40901,
  CARD_REMOVED: 40902,
  OUT_OF_STOCK: 40903,
  GET_LIMIT_REACHED: 40904,
  PRESENT_CLOSED: 40905,
  USE_LIMIT_REACHED: 40906,
  REVERSE_REFUSED: 40907,
  POINTS_INSUFFICIENT: 40908,
  REVERSE_EXCEEDS: 40909,
  RULE_CAP_REACHED: 40910,
  TRANSFER_CLOSED: 40911,
  WRONG_GENERATE_TYPE: 42201,
  NOT_CLAIMABLE: 42202,
  CODE_NOT_USABLE: 42203,
  GIFT_NOT_ALLOWED: 42204,
  /** The key made more requests this minute than its scope allows (RateLimit headers say when to retry). */
  RATE_LIMITED: 42901,
  INTERNAL: 50001,
  SERVICE_UNAVAILABLE: 50301,
  /** PostgreSQL or Redis unreachable, restarting or read-only: nothing was done, retry with the same id. */
  STORE_UNAVAILABLE: 50302,
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const HTTP_STATUS: Record<ErrorCode, number> = {
  [ErrorCode.OK]: 200,
  [ErrorCode.VALIDATION]: 400,
  [ErrorCode.PAYLOAD_TOO_LARGE]: 413,
  [ErrorCode.UNAUTHORIZED]: 401,
  [ErrorCode.FORBIDDEN]: 403,
  [ErrorCode.NOT_FOUND]: 404,
  [ErrorCode.CARD_NOT_FOUND]: 404,
  [ErrorCode.GENERATE_NOT_FOUND]: 404,
  [ErrorCode.ROUTE_NOT_FOUND]: 404,
  [ErrorCode.CODE_NOT_FOUND]: 404,
  [ErrorCode.PRESENT_NOT_FOUND]: 404,
  [ErrorCode.RECEIVE_NOT_FOUND]: 404,
  [ErrorCode.REDEEM_NOT_FOUND]: 404,
  [ErrorCode.EVENT_NOT_FOUND]: 404,
  [ErrorCode.RULE_NOT_FOUND]: 404,
  [ErrorCode.TRANSFER_NOT_FOUND]: 404,
  [ErrorCode.IDEMPOTENCY_CONFLICT]: 409,
  [ErrorCode.CARD_REMOVED]: 409,
  [ErrorCode.OUT_OF_STOCK]: 409,
  [ErrorCode.GET_LIMIT_REACHED]: 409,
  [ErrorCode.PRESENT_CLOSED]: 409,
  [ErrorCode.USE_LIMIT_REACHED]: 409,
  [ErrorCode.REVERSE_REFUSED]: 409,
  [ErrorCode.POINTS_INSUFFICIENT]: 409,
  [ErrorCode.REVERSE_EXCEEDS]: 409,
  [ErrorCode.RULE_CAP_REACHED]: 409,
  [ErrorCode.TRANSFER_CLOSED]: 409,
  [ErrorCode.WRONG_GENERATE_TYPE]: 422,
  [ErrorCode.NOT_CLAIMABLE]: 422,
  [ErrorCode.CODE_NOT_USABLE]: 422,
  [ErrorCode.GIFT_NOT_ALLOWED]: 422,
  [ErrorCode.RATE_LIMITED]: 429,
  [ErrorCode.INTERNAL]: 500,
  [ErrorCode.SERVICE_UNAVAILABLE]: 503,
  [ErrorCode.STORE_UNAVAILABLE]: 503,
};

export function httpStatusOf(code: number): number {
  return HTTP_STATUS[code as ErrorCode] ?? (code === 0 ? 200 : 500);
}
