import { fail, hasCrossFieldRules, invalid, isEnvelope, ok } from './envelope';
import { ErrorCode } from './errors';

describe('ok', () => {
  it.each<[string, unknown, string | undefined, object]>([
    ['data with the default msg', { card_id: 'c1' }, undefined, { code: 0, msg: 'ok', data: { card_id: 'c1' } }],
    ['data with a msg', [1, 2], '获取卡券详情成功', { code: 0, msg: '获取卡券详情成功', data: [1, 2] }],
    ['null data is kept', null, undefined, { code: 0, msg: 'ok', data: null }],
    ['0 data is kept', 0, undefined, { code: 0, msg: 'ok', data: 0 }],
    ['false data is kept', false, undefined, { code: 0, msg: 'ok', data: false }],
    ['empty string data is kept', '', undefined, { code: 0, msg: 'ok', data: '' }],
  ])('%s', (_name, data, msg, envelope) => {
    expect(ok(data, msg)).toStrictEqual(envelope);
  });

  it('leaves out data when there is none', () => {
    const envelope = ok(undefined);
    expect(envelope).toStrictEqual({ code: 0, msg: 'ok' });
    expect('data' in envelope).toBe(false);
  });
});

describe('fail', () => {
  const violation = { field: 'title', message: 'title must be a string' };

  it.each<[string, Parameters<typeof fail>, object]>([
    ['without errors', [ErrorCode.CARD_NOT_FOUND, 'card not found'], { code: 40402, msg: 'card not found' }],
    ['with empty errors', [ErrorCode.INTERNAL, 'internal error', []], { code: 50001, msg: 'internal error' }],
    ['with errors', [ErrorCode.VALIDATION, 'bad', [violation]], { code: 40001, msg: 'bad', errors: [violation] }],
  ])('%s', (_name, args, envelope) => {
    expect(fail(...args)).toStrictEqual(envelope);
  });
});

describe('invalid', () => {
  it('is a validation failure whose msg joins every violation', () => {
    const errors = [
      { field: 'title', message: 'title must be a string' },
      { field: 'extra_info.bg_color', message: 'extra_info.bg_color must be a string' },
    ];
    expect(invalid(errors)).toStrictEqual({
      code: ErrorCode.VALIDATION,
      msg: 'title: title must be a string; extra_info.bg_color: extra_info.bg_color must be a string',
      errors,
    });
  });

  it('with one violation', () => {
    expect(invalid([{ field: 'body', message: 'body must be a JSON object' }])).toStrictEqual({
      code: 40001,
      msg: 'body: body must be a JSON object',
      errors: [{ field: 'body', message: 'body must be a JSON object' }],
    });
  });
});

describe('isEnvelope', () => {
  it.each<[unknown, boolean]>([
    [{ code: 0, msg: 'ok' }, true],
    [{ code: 0, msg: 'ok', data: { a: 1 } }, true],
    [{ code: 40001, msg: '', errors: [] }, true],
    [ok(null), true],
    [fail(ErrorCode.INTERNAL, 'x'), true],
    [{ code: '0', msg: 'ok' }, false],
    [{ code: 0 }, false],
    [{ msg: 'ok' }, false],
    [{ code: 0, msg: null }, false],
    [{ status: 200, message: 'ok' }, false],
    [null, false],
    [undefined, false],
    ['{"code":0,"msg":"ok"}', false],
    [0, false],
    [[0, 'ok'], false],
  ])('%j -> %p', (value, expected) => {
    expect(isEnvelope(value)).toBe(expected);
  });
});

describe('hasCrossFieldRules', () => {
  it.each<[unknown, boolean]>([
    [{ ruleViolations: () => [] }, true],
    [{ ruleViolations: [] }, false],
    [{}, false],
    [null, false],
    ['ruleViolations', false],
  ])('%p -> %p', (value, expected) => {
    expect(hasCrossFieldRules(value)).toBe(expected);
  });
});
