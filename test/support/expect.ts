import { Answer } from './suite';

/** An answer refused with `code` and the HTTP `status` that goes with it; `msg` must match when given. */
export function expectError(res: Answer, status: number, code: number, msg?: RegExp): void {
  expect(res.body.code).toBe(code);
  expect(res.status).toBe(status);
  if (msg) expect(res.body.msg).toMatch(msg);
}

/** 400 naming `field`, in the message and in the errors list, with no data. */
export function expectInvalid(res: Answer, field: string): void {
  expectError(res, 400, 40001, new RegExp(field.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  expect(res.body.errors?.map((e) => e.field)).toContain(field);
  expect(res.body).not.toHaveProperty('data');
}

let seq = 0;
/** An id no other call of the run has used: `<prefix>-<time>-<n>`. */
export const uid = (prefix: string): string => `${prefix}-${Date.now().toString(36)}-${++seq}`;
