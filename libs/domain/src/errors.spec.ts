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
    ['IDEMPOTENCY_CONFLICT', 40901, 409],
    ['CARD_REMOVED', 40902, 409],
    ['PAYLOAD_TOO_LARGE', 41301, 413],
    ['WRONG_GENERATE_TYPE', 42201, 422],
    ['INTERNAL', 50001, 500],
    ['SERVICE_UNAVAILABLE', 50301, 503],
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
