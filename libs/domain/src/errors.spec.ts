import { ErrorCode, httpStatusOf } from './errors';

describe('ErrorCode', () => {
  const table: Array<[keyof typeof ErrorCode, number, number]> = [
    ['OK', 0, 200],
    ['VALIDATION', 40001, 400],
    ['UNAUTHORIZED', 40101, 401],
    ['FORBIDDEN', 40301, 403],
    ['NOT_FOUND', 40401, 404],
    ['CARD_NOT_FOUND', 40402, 404],
    ['GENERATE_NOT_FOUND', 40403, 404],
    ['ROUTE_NOT_FOUND', 40404, 404],
    ['CODE_NOT_FOUND', 40405, 404],
    ['PRESENT_NOT_FOUND', 40406, 404],
    ['RECEIVE_NOT_FOUND', 40407, 404],
    ['REDEEM_NOT_FOUND', 40408, 404],
    ['EVENT_NOT_FOUND', 40409, 404],
    ['RULE_NOT_FOUND', 40410, 404],
    ['TRANSFER_NOT_FOUND', 40411, 404],
    ['WEBHOOK_NOT_FOUND', 40412, 404],
    ['DELIVERY_NOT_FOUND', 40413, 404],
    ['IDEMPOTENCY_CONFLICT', 40901, 409],
    ['CARD_REMOVED', 40902, 409],
    ['OUT_OF_STOCK', 40903, 409],
    ['GET_LIMIT_REACHED', 40904, 409],
    ['PRESENT_CLOSED', 40905, 409],
    ['USE_LIMIT_REACHED', 40906, 409],
    ['REVERSE_REFUSED', 40907, 409],
    ['POINTS_INSUFFICIENT', 40908, 409],
    ['REVERSE_EXCEEDS', 40909, 409],
    ['RULE_CAP_REACHED', 40910, 409],
    ['TRANSFER_CLOSED', 40911, 409],
    ['PAYLOAD_TOO_LARGE', 41301, 413],
    ['WRONG_GENERATE_TYPE', 42201, 422],
    ['RATE_LIMITED', 42901, 429],
    ['NOT_CLAIMABLE', 42202, 422],
    ['CODE_NOT_USABLE', 42203, 422],
    ['GIFT_NOT_ALLOWED', 42204, 422],
    ['INTERNAL', 50001, 500],
    ['SERVICE_UNAVAILABLE', 50301, 503],
    ['STORE_UNAVAILABLE', 50302, 503],
  ];

  it('the table below lists every code, each value once', () => {
    expect(Object.keys(ErrorCode).sort()).toEqual(table.map(([name]) => name).sort());
    expect(new Set(Object.values(ErrorCode)).size).toBe(table.length);
  });

  it.each(table)('%s = %i -> HTTP %i', (name, code, status) => {
    expect(ErrorCode[name]).toBe(code);
    expect(httpStatusOf(code)).toBe(status);
  });

  it.each([1, -1, 400, 404, 40000, 40002, 49999, 99999, 1.5, NaN])('unknown code %p -> HTTP 500', (code) => {
    expect(httpStatusOf(code)).toBe(500);
  });
});
