import 'reflect-metadata';
import { fail, ok } from '@app/domain';
import { drainInBatches, idConflict, settleWrite } from './idempotent-write';

describe('settleWrite', () => {
  const id = { name: 'redeem_id', value: 'r1' };
  const original = async () => ok({ redeem_id: 'r1' }, 'done before');

  it('answers a refusal as it is, without reading anything', async () => {
    const stored = jest.fn();
    const refused = fail(42203, 'not usable now');
    expect(await settleWrite(refused, id, 'h', stored, original)).toBe(refused);
    expect(stored).not.toHaveBeenCalled();
  });

  it('answers the record when done now, without comparing hashes', async () => {
    const stored = jest.fn();
    expect(await settleWrite('done', id, 'h', stored, original)).toEqual(ok({ redeem_id: 'r1' }, 'done before'));
    expect(stored).not.toHaveBeenCalled();
  });

  it('answers the original record to a repeat with the same payload, and a conflict naming the id to another payload', async () => {
    expect(await settleWrite('taken', id, 'same', async () => 'same', original)).toEqual(ok({ redeem_id: 'r1' }, 'done before'));
    expect(await settleWrite('taken', id, 'mine', async () => 'theirs', original)).toEqual(idConflict('redeem_id', 'r1'));
    expect(idConflict('redeem_id', 'r1')).toEqual({ code: 40901, msg: 'redeem_id r1 was used before with another payload' });
  });
});

describe('drainInBatches', () => {
  it('asks for full batches until one comes back short, and answers the total', async () => {
    const sizes = [5, 5, 5, 2];
    const asked: number[] = [];
    const total = await drainInBatches(5, async (size) => {
      asked.push(size);
      return sizes.shift()!;
    });
    expect(total).toBe(17);
    expect(asked).toEqual([5, 5, 5, 5]);
  });

  it('stops after one call when nothing is due', async () => {
    const batch = jest.fn(async () => 0);
    expect(await drainInBatches(100, batch)).toBe(0);
    expect(batch).toHaveBeenCalledTimes(1);
  });
});
