import { Decimal } from 'decimal.js';

/** An earn or a spend of a batch, in arrival order. Amounts are decimal text. */
export type PlannedEvent =
  | { kind: 'earn'; event_no: string; member_no: string; points: string; expire_time: Date | null; unfreeze_time: Date | null }
  | { kind: 'spend'; event_no: string; member_no: string; points: string };

/** A lot the member can spend from at the batch's time (unfrozen, unexpired, with points left). */
export interface SpendableLot {
  lot_id: string;
  remaining: string;
  expire_time: Date | null;
}

/** A member as locked by the batch: the debt owed and the spendable lots, soonest expiry first (never-expiring last), then by lot_id. */
export interface LockedMember {
  debt: string;
  lots: SpendableLot[];
}

/** A lot this batch creates (an earn); `remaining` is after the batch's own spends from it. */
export interface NewLot {
  event_no: string;
  member_no: string;
  amount: string;
  remaining: string;
  expire_time: Date | null;
  unfreeze_time: Date | null;
}

/** What a spend took from one lot: an existing lot by id, or a lot of this batch by its earn's event_no. */
export interface PlannedAllocation {
  event_no: string;
  lot_id: string | null;
  lot_event_no: string | null;
  points: string;
}

/** What the batch adds to each member's counters; `paid` comes off the debt. */
export interface MemberDelta {
  member_no: string;
  total: string;
  used: string;
  paid: string;
}

export interface BatchPlan {
  /** Per event, in order: recorded, or refused for want of points (what the member could spend). */
  outcomes: Array<{ recorded: true } | { recorded: false; available: string }>;
  newLots: NewLot[];
  /** Points taken from existing lots, per lot. */
  taken: Array<{ lot_id: string; points: string }>;
  allocations: PlannedAllocation[];
  members: MemberDelta[];
}

interface Lot {
  lot_id: string | null;
  event_no: string;
  remaining: Decimal;
  expire_time: Date | null;
  fresh?: NewLot;
}

const expiry = (d: Date | null) => (d === null ? Infinity : d.getTime());

/**
 * Decides a batch of earns and spends in arrival order, as if each ran alone in that
 * order under its member's lock: an earn pays the member's debt first and makes a lot
 * (spendable by the batch's later spends when it is neither frozen nor expired at
 * `now`); a spend needs the spendable points less the debt, and takes them from the
 * lots soonest expiry first (lots that never expire last), else it is refused and
 * changes nothing. Pure: the caller reads the members under their locks and writes the plan.
 */
export function planBatch(events: PlannedEvent[], locked: Map<string, LockedMember>, now: Date): BatchPlan {
  const state = new Map<string, { debt: Decimal; lots: Lot[]; total: Decimal; used: Decimal; paid: Decimal }>();
  const member = (no: string) => {
    let s = state.get(no);
    if (!s) {
      const m = locked.get(no);
      if (!m) throw new Error(`member ${no} was not locked by the batch`);
      s = {
        debt: new Decimal(m.debt),
        lots: m.lots.map((l) => ({ lot_id: l.lot_id, event_no: '', remaining: new Decimal(l.remaining), expire_time: l.expire_time })),
        total: new Decimal(0),
        used: new Decimal(0),
        paid: new Decimal(0),
      };
      state.set(no, s);
    }
    return s;
  };
  const plan: BatchPlan = { outcomes: [], newLots: [], taken: [], allocations: [], members: [] };
  const taken = new Map<string, Decimal>();
  for (const e of events) {
    const m = member(e.member_no);
    const points = new Decimal(e.points);
    if (e.kind === 'earn') {
      const paid = Decimal.min(m.debt, points);
      m.debt = m.debt.minus(paid);
      m.paid = m.paid.plus(paid);
      m.total = m.total.plus(points);
      const fresh: NewLot = {
        event_no: e.event_no,
        member_no: e.member_no,
        amount: points.toFixed(),
        remaining: points.minus(paid).toFixed(),
        expire_time: e.expire_time,
        unfreeze_time: e.unfreeze_time,
      };
      plan.newLots.push(fresh);
      const spendable = (e.unfreeze_time === null || e.unfreeze_time <= now) && (e.expire_time === null || e.expire_time > now);
      if (spendable) {
        // After every lot expiring no later: a new lot's id is above all the member's lots so far.
        const at = m.lots.findIndex((l) => expiry(l.expire_time) > expiry(e.expire_time));
        const lot: Lot = { lot_id: null, event_no: e.event_no, remaining: points.minus(paid), expire_time: e.expire_time, fresh };
        m.lots.splice(at === -1 ? m.lots.length : at, 0, lot);
      }
      plan.outcomes.push({ recorded: true });
      continue;
    }
    const available = m.lots.reduce((a, l) => a.plus(l.remaining), new Decimal(0)).minus(m.debt);
    if (available.lessThan(points)) {
      plan.outcomes.push({ recorded: false, available: available.toFixed() });
      continue;
    }
    let left = points;
    for (const lot of m.lots) {
      if (left.isZero()) break;
      if (lot.remaining.isZero()) continue;
      const n = Decimal.min(lot.remaining, left);
      lot.remaining = lot.remaining.minus(n);
      left = left.minus(n);
      if (lot.fresh) lot.fresh.remaining = lot.remaining.toFixed();
      else taken.set(lot.lot_id!, (taken.get(lot.lot_id!) ?? new Decimal(0)).plus(n));
      plan.allocations.push({ event_no: e.event_no, lot_id: lot.lot_id, lot_event_no: lot.fresh ? lot.event_no : null, points: n.toFixed() });
    }
    m.used = m.used.plus(points);
    plan.outcomes.push({ recorded: true });
  }
  plan.taken = [...taken].map(([lot_id, n]) => ({ lot_id, points: n.toFixed() }));
  for (const [member_no, s] of state) {
    if (!s.total.isZero() || !s.used.isZero() || !s.paid.isZero()) {
      plan.members.push({ member_no, total: s.total.toFixed(), used: s.used.toFixed(), paid: s.paid.toFixed() });
    }
  }
  return plan;
}
