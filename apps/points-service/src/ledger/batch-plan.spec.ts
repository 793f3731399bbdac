import { LockedMember, planBatch, PlannedEvent } from './batch-plan';

const now = new Date('2026-11-26T04:00:00Z');
const at = (iso: string) => new Date(iso);
const earn = (event_no: string, member_no: string, points: string, expire: string | null = null, unfreeze: string | null = null): PlannedEvent => ({
  kind: 'earn',
  event_no,
  member_no,
  points,
  expire_time: expire ? at(expire) : null,
  unfreeze_time: unfreeze ? at(unfreeze) : null,
});
const spend = (event_no: string, member_no: string, points: string): PlannedEvent => ({ kind: 'spend', event_no, member_no, points });
const members = (m: Record<string, LockedMember>) => new Map(Object.entries(m));
const lot = (lot_id: string, remaining: string, expire: string | null = null) => ({ lot_id, remaining, expire_time: expire ? at(expire) : null });

describe('planBatch', () => {
  it('spends soonest expiry first, never-expiring lots last, and counts what it took per lot', () => {
    const plan = planBatch(
      [spend('s1', 'm', '7'), spend('s2', 'm', '4')],
      members({ m: { debt: '0', lots: [lot('1', '5', '2026-12-01T00:00:00Z'), lot('2', '5', '2027-01-01T00:00:00Z'), lot('3', '5')] } }),
      now,
    );
    expect(plan.outcomes).toEqual([{ recorded: true }, { recorded: true }]);
    expect(plan.allocations).toEqual([
      { event_no: 's1', lot_id: '1', lot_event_no: null, points: '5' },
      { event_no: 's1', lot_id: '2', lot_event_no: null, points: '2' },
      { event_no: 's2', lot_id: '2', lot_event_no: null, points: '3' },
      { event_no: 's2', lot_id: '3', lot_event_no: null, points: '1' },
    ]);
    expect(plan.taken).toEqual([
      { lot_id: '1', points: '5' },
      { lot_id: '2', points: '5' },
      { lot_id: '3', points: '1' },
    ]);
    expect(plan.members).toEqual([{ member_no: 'm', total: '0', used: '11', paid: '0' }]);
  });

  it('refuses a spend beyond the spendable points less the debt, names what is available, and changes nothing for it', () => {
    const plan = planBatch([spend('s1', 'm', '8'), spend('s2', 'm', '7')], members({ m: { debt: '3', lots: [lot('1', '10')] } }), now);
    expect(plan.outcomes).toEqual([{ recorded: false, available: '7' }, { recorded: true }]);
    expect(plan.allocations).toEqual([{ event_no: 's2', lot_id: '1', lot_event_no: null, points: '7' }]);
    expect(plan.members).toEqual([{ member_no: 'm', total: '0', used: '7', paid: '0' }]);
  });

  it('lets a later spend of the batch take from an earn of the same batch, in expiry order with the existing lots', () => {
    const plan = planBatch(
      [earn('e1', 'm', '10', '2026-12-15T00:00:00Z'), spend('s1', 'm', '12')],
      members({ m: { debt: '0', lots: [lot('1', '5', '2026-12-01T00:00:00Z'), lot('2', '5', '2027-01-01T00:00:00Z')] } }),
      now,
    );
    expect(plan.outcomes).toEqual([{ recorded: true }, { recorded: true }]);
    expect(plan.allocations).toEqual([
      { event_no: 's1', lot_id: '1', lot_event_no: null, points: '5' },
      { event_no: 's1', lot_id: null, lot_event_no: 'e1', points: '7' },
    ]);
    expect(plan.newLots).toEqual([
      { event_no: 'e1', member_no: 'm', amount: '10', remaining: '3', expire_time: at('2026-12-15T00:00:00Z'), unfreeze_time: null },
    ]);
    expect(plan.taken).toEqual([{ lot_id: '1', points: '5' }]);
    expect(plan.members).toEqual([{ member_no: 'm', total: '10', used: '12', paid: '0' }]);
  });

  it('puts a new lot after the existing lots expiring at the same time (its id is higher)', () => {
    const plan = planBatch(
      [earn('e1', 'm', '4', '2026-12-01T00:00:00Z'), spend('s1', 'm', '6')],
      members({ m: { debt: '0', lots: [lot('9', '5', '2026-12-01T00:00:00Z')] } }),
      now,
    );
    expect(plan.allocations.map((a) => a.lot_id ?? a.lot_event_no)).toEqual(['9', 'e1']);
  });

  it("keeps a frozen or already expired earn out of reach of the batch's spends", () => {
    const plan = planBatch(
      [earn('e1', 'm', '10', null, '2026-11-27T00:00:00Z'), earn('e2', 'm', '10', '2026-11-26T03:00:00Z'), spend('s1', 'm', '1')],
      members({ m: { debt: '0', lots: [] } }),
      now,
    );
    expect(plan.outcomes[2]).toEqual({ recorded: false, available: '0' });
    expect(plan.newLots.map((l) => l.remaining)).toEqual(['10', '10']);
  });

  it('pays a debt from an earn first, exactly in decimals', () => {
    const plan = planBatch([earn('e1', 'm', '0.3'), earn('e2', 'm', '0.25'), spend('s1', 'm', '0.05')], members({ m: { debt: '0.5', lots: [] } }), now);
    // 0.3 + 0.25 pays the debt of 0.5 and leaves 0.05, which the spend takes: both lots end empty.
    expect(plan.newLots.map((l) => [l.amount, l.remaining])).toEqual([
      ['0.3', '0'],
      ['0.25', '0'],
    ]);
    expect(plan.outcomes).toEqual([{ recorded: true }, { recorded: true }, { recorded: true }]);
    expect(plan.allocations).toEqual([{ event_no: 's1', lot_id: null, lot_event_no: 'e2', points: '0.05' }]);
    expect(plan.members).toEqual([{ member_no: 'm', total: '0.55', used: '0.05', paid: '0.5' }]);
  });

  it('decides each member on its own and leaves out members the batch does not change', () => {
    const plan = planBatch([spend('s1', 'a', '1'), earn('e1', 'b', '2')], members({ a: { debt: '0', lots: [] }, b: { debt: '0', lots: [] } }), now);
    expect(plan.outcomes).toEqual([{ recorded: false, available: '0' }, { recorded: true }]);
    expect(plan.members).toEqual([{ member_no: 'b', total: '2', used: '0', paid: '0' }]);
  });

  it('refuses to plan for a member the batch did not lock', () => {
    expect(() => planBatch([earn('e1', 'x', '1')], members({}), now)).toThrow('member x was not locked by the batch');
  });
});
