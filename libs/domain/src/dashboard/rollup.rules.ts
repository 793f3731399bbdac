import { DateTime } from 'luxon';
import { CardEvent, CardEventKind } from '../contracts/card-events';

/*
 * Over 300 lines on purpose: every rule that turns card events into rollup deltas (day
 * counters, channel counts, member spans and their chains) lives here, because the apply
 * path and the rebuild must compute exactly the same deltas; split, they could drift.
 */

/** The counters of one (day, card) row of the dashboard; claim and redeem are net of their reversals. */
export interface CardDayCounts {
  claim_num: number;
  claim_reverse_num: number;
  redeem_num: number;
  redeem_reverse_num: number;
  present_num: number;
  accept_num: number;
  return_num: number;
  expire_num: number;
  void_num: number;
}

export const CARD_DAY_COUNTERS: ReadonlyArray<keyof CardDayCounts> = [
  'claim_num',
  'claim_reverse_num',
  'redeem_num',
  'redeem_reverse_num',
  'present_num',
  'accept_num',
  'return_num',
  'expire_num',
  'void_num',
];

export type CardDayDelta = { day: string; card_id: string } & CardDayCounts;
/** The card_day counters of one day summed over the tenant's cards (tenant_day). */
export type TenantDayDelta = { day: string } & CardDayCounts;
export type ChannelKind = 'claim' | 'redeem';
export interface ChannelDayDelta {
  kind: ChannelKind;
  day: string;
  card_id: string;
  channel: string;
  num: number;
}
/** channel_day summed over cards (channel_day_all). */
export interface ChannelAllDayDelta {
  kind: ChannelKind;
  day: string;
  channel: string;
  num: number;
}
export type MemberKind = 'claim' | 'redeem' | 'present';
export interface MemberDayDelta {
  kind: MemberKind;
  card_id: string;
  day: string;
  member_no: string;
  num: number;
}
export interface TitleSeen {
  card_id: string;
  title: string;
  title_at: string;
}
/** A member's net codes of a kind on a day across every card (the sum of its member_day deltas). */
export interface MemberAllDayDelta {
  kind: MemberKind;
  member_no: string;
  day: string;
  num: number;
}
/**
 * A change of `n` to the members active on `day` whose previous active day (same kind,
 * same scope) is `prev_day`. The scope is `card_id`: one card, or ALL_CARDS (any card).
 */
export interface MemberSpanDelta {
  kind: MemberKind;
  card_id: string;
  day: string;
  prev_day: string;
  n: number;
}

/** The previous active day of a member's first active day: before every real day. */
export const NO_DAY = '0001-01-01';
/**
 * The day after a member's last active day: after every real day. The pair (NO_NEXT_DAY,
 * last active day) closes each chain, so the member_span rows of NO_NEXT_DAY count the
 * members by their last active day (what a range ending at the latest days reads).
 */
export const NO_NEXT_DAY = '9999-12-31';
const DAY_MS = 86_400_000;

/** The card_id of member_span rows that count members across cards (a real card_id is never empty). */
export const ALL_CARDS = '';

/** One member's chain of active days: per kind, in one scope (a card, or ALL_CARDS). */
export interface MemberChain {
  kind: MemberKind;
  card_id: string;
  member_no: string;
}

/** A member_day or member_all_day row after an upsert: its new num and the delta that made it (card_id ALL_CARDS: member_all_day). */
export interface MemberDayAfter extends MemberChain {
  day: string;
  num: number;
  delta: number;
}

/** A chain a batch moved: the days that became active (ups) and those that stopped (downs). */
export interface ChainMove extends MemberChain {
  ups: string[];
  downs: string[];
}

/** What a batch of events (of one tenant, each applied for the first time) adds to the rollups. */
export interface RollupDeltas {
  cardDays: CardDayDelta[];
  /** cardDays summed over cards, by day (kept even when every counter sums to 0, as cardDays). */
  tenantDays: TenantDayDelta[];
  /** In key order (kind, card_id, day, channel). */
  channelDays: ChannelDayDelta[];
  /** channelDays summed over cards, in key order (kind, day, channel); sums of 0 left off. */
  channelAllDays: ChannelAllDayDelta[];
  /** In key order (kind, card_id, member_no, day). */
  memberDays: MemberDayDelta[];
  /** memberDays summed over cards, in key order (kind, member_no, day); sums of 0 left off. */
  memberAllDays: MemberAllDayDelta[];
  titles: TitleSeen[];
}

/** How an event kind moves the rollups (see EFFECT). */
export interface CardEventEffect {
  counter: keyof CardDayCounts;
  also?: keyof CardDayCounts;
  sign: 1 | -1;
  channel?: ChannelKind;
  member?: MemberKind;
}

/**
 * How one event kind moves the rollups: `sign` × count on a card_day counter (and on the
 * reversal's own counter), on the channel of claims or redemptions, and on a member's
 * distinct-member count. Reversals take back on the day of what they reverse (`day_of`).
 */
const EFFECT: Record<CardEventKind, CardEventEffect> = {
  [CardEventKind.CLAIM]: { counter: 'claim_num', sign: 1, channel: 'claim', member: 'claim' },
  [CardEventKind.CLAIM_REVERSE]: { counter: 'claim_num', also: 'claim_reverse_num', sign: -1, channel: 'claim', member: 'claim' },
  [CardEventKind.REDEEM]: { counter: 'redeem_num', sign: 1, channel: 'redeem', member: 'redeem' },
  [CardEventKind.REDEEM_REVERSE]: { counter: 'redeem_num', also: 'redeem_reverse_num', sign: -1, channel: 'redeem', member: 'redeem' },
  [CardEventKind.GIFT]: { counter: 'present_num', sign: 1, member: 'present' },
  [CardEventKind.GIFT_ACCEPT]: { counter: 'accept_num', sign: 1 },
  [CardEventKind.GIFT_RETURN]: { counter: 'return_num', sign: 1 },
  [CardEventKind.EXPIRE]: { counter: 'expire_num', sign: 1 },
  [CardEventKind.VOID]: { counter: 'void_num', sign: 1 },
};

/** Every kind's effect, for the set-based rebuild (the same rules in SQL). */
export const CARD_EVENT_EFFECTS: ReadonlyArray<{ kind: CardEventKind } & CardEventEffect> = Object.entries(EFFECT).map(([kind, e]) => ({
  kind: kind as CardEventKind,
  ...e,
}));

/** The day (YYYY-MM-DD in `zone`) an instant falls on. */
export function dayIn(instant: string, zone: string): string {
  const d = DateTime.fromISO(instant, { zone: 'UTC' }).setZone(zone);
  if (!d.isValid) throw new Error(`not an ISO 8601 instant: ${instant}`);
  return d.toISODate();
}

const zeroCounts = (): CardDayCounts => ({
  claim_num: 0,
  claim_reverse_num: 0,
  redeem_num: 0,
  redeem_reverse_num: 0,
  present_num: 0,
  accept_num: 0,
  return_num: 0,
  expire_num: 0,
  void_num: 0,
});

/** Plain code-point order: every transaction writes rows in the same order, so two workers never deadlock. */
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const byKey =
  <T>(key: (x: T) => string[]) =>
  (x: T, y: T): number => {
    const a = key(x);
    const b = key(y);
    for (let i = 0; i < a.length; i++) {
      const c = cmp(a[i], b[i]);
      if (c) return c;
    }
    return 0;
  };

/**
 * Sums a batch of events (each new to the dashboard) into one delta per rollup row, in
 * key order. A channel of null counts under ''. Deltas that sum to 0 are kept off, except
 * card_day rows (their reversal counters moved). The latest title per card wins by
 * occurred_at, then event_id. `dayOf` gives the day an event counts on from its day_of:
 * a zone (dayIn), or the days the database computed for the batch (RollupService: the
 * same expression as the rebuild's).
 */
export function rollupDeltas(events: readonly CardEvent[], dayOf: string | ((instant: string) => string)): RollupDeltas {
  const day_ = typeof dayOf === 'string' ? (instant: string) => dayIn(instant, dayOf) : dayOf;
  const cardDays = new Map<string, CardDayDelta>();
  const channelDays = new Map<string, ChannelDayDelta>();
  const memberDays = new Map<string, MemberDayDelta>();
  const titles = new Map<string, TitleSeen & { event_id: string; ms: number }>();
  for (const e of events) {
    const effect = EFFECT[e.kind];
    if (!effect) throw new Error(`unknown card event kind ${String(e.kind)}`);
    const day = day_(e.day_of);
    const n = effect.sign * e.count;
    const cd = cardDays.get(`${day}\u0000${e.card_id}`) ?? { day, card_id: e.card_id, ...zeroCounts() };
    cardDays.set(`${day}\u0000${e.card_id}`, cd);
    cd[effect.counter] += n;
    if (effect.also) cd[effect.also] += e.count;
    if (effect.channel) {
      const channel = e.channel ?? '';
      const key = `${effect.channel}\u0000${day}\u0000${e.card_id}\u0000${channel}`;
      const ch = channelDays.get(key) ?? { kind: effect.channel, day, card_id: e.card_id, channel, num: 0 };
      channelDays.set(key, ch);
      ch.num += n;
    }
    if (effect.member) {
      const key = `${effect.member}\u0000${e.card_id}\u0000${day}\u0000${e.member_no}`;
      const md = memberDays.get(key) ?? { kind: effect.member, card_id: e.card_id, day, member_no: e.member_no, num: 0 };
      memberDays.set(key, md);
      md.num += n;
    }
    const ms = DateTime.fromISO(e.occurred_at, { zone: 'UTC' }).toMillis();
    const seen = titles.get(e.card_id);
    if (!seen || ms > seen.ms || (ms === seen.ms && cmp(e.event_id, seen.event_id) > 0)) {
      titles.set(e.card_id, { card_id: e.card_id, title: e.title, title_at: e.occurred_at, event_id: e.event_id, ms });
    }
  }
  const tenantDays = new Map<string, TenantDayDelta>();
  for (const c of cardDays.values()) {
    const t = tenantDays.get(c.day) ?? { day: c.day, ...zeroCounts() };
    tenantDays.set(c.day, t);
    for (const k of CARD_DAY_COUNTERS) t[k] += c[k];
  }
  const channelAllDays = new Map<string, ChannelAllDayDelta>();
  for (const c of channelDays.values()) {
    const key = `${c.kind}\u0000${c.day}\u0000${c.channel}`;
    const a = channelAllDays.get(key) ?? { kind: c.kind, day: c.day, channel: c.channel, num: 0 };
    channelAllDays.set(key, a);
    a.num += c.num;
  }
  const memberAllDays = new Map<string, MemberAllDayDelta>();
  for (const m of memberDays.values()) {
    const key = `${m.kind}\u0000${m.member_no}\u0000${m.day}`;
    const a = memberAllDays.get(key) ?? { kind: m.kind, member_no: m.member_no, day: m.day, num: 0 };
    memberAllDays.set(key, a);
    a.num += m.num;
  }
  return {
    cardDays: [...cardDays.values()].sort(byKey((r) => [r.day, r.card_id])),
    tenantDays: [...tenantDays.values()].sort(byKey((r) => [r.day])),
    channelDays: [...channelDays.values()].filter((r) => r.num !== 0).sort(byKey((r) => [r.kind, r.card_id, r.day, r.channel])),
    channelAllDays: [...channelAllDays.values()].filter((r) => r.num !== 0).sort(byKey((r) => [r.kind, r.day, r.channel])),
    memberDays: [...memberDays.values()].filter((r) => r.num !== 0).sort(byKey((r) => [r.kind, r.card_id, r.member_no, r.day])),
    memberAllDays: [...memberAllDays.values()].filter((r) => r.num !== 0).sort(byKey((r) => [r.kind, r.member_no, r.day])),
    titles: [...titles.values()].map(({ card_id, title, title_at }) => ({ card_id, title, title_at })).sort(byKey((r) => [r.card_id])),
  };
}

/** Whether a member_day or member_all_day row's new num (after adding `delta`) made the day active (up) or inactive (down). */
export function dayTransition(num: number, delta: number): 'up' | 'down' | null {
  if (num > 0 && num - delta <= 0) return 'up';
  if (num <= 0 && num - delta > 0) return 'down';
  return null;
}

/**
 * The (day, prev_day) pairs of a member's active days (sorted): each day with the one
 * before it, the first with NO_DAY, and (NO_NEXT_DAY, the last day); none without days.
 */
export function spanPairs(days: readonly string[]): Array<[day: string, prev: string]> {
  const pairs = days.map((d, i): [string, string] => [d, i ? days[i - 1] : NO_DAY]);
  if (days.length) pairs.push([NO_NEXT_DAY, days[days.length - 1]]);
  return pairs;
}

/**
 * What one member's transitions in a batch change in member_span: `after` is the member's
 * active days of the kind once the batch is in (read back, sorted), `ups` the days that
 * became active, `downs` the days that stopped being active. The chain before the batch
 * is `after` without the ups and with the downs; the answer is the pairs of the chain
 * after (+1) less those of the chain before (-1), pairs in both left out, by (day, prev_day).
 */
export function spanDiff(after: readonly string[], ups: readonly string[], downs: readonly string[]): Array<{ day: string; prev_day: string; n: number }> {
  const up = new Set(ups);
  const before = [...after.filter((d) => !up.has(d)), ...downs].sort(cmp);
  const n = new Map<string, number>();
  const add = (pairs: Array<[string, string]>, by: number) => {
    for (const [d, p] of pairs) n.set(`${d}|${p}`, (n.get(`${d}|${p}`) ?? 0) + by);
  };
  add(spanPairs(after), 1);
  add(spanPairs(before), -1);
  return [...n.entries()]
    .filter(([, v]) => v !== 0)
    .map(([k, v]) => ({ day: k.slice(0, 10), prev_day: k.slice(11), n: v }))
    .sort(byKey((r) => [r.day, r.prev_day]));
}

/** The key of a chain (kind, card_id, member_no) in maps of active days. */
export const chainKey = (c: MemberChain): string => `${c.kind}\u0000${c.card_id}\u0000${c.member_no}`;

/**
 * The chains a batch moved, from the rows its upserts answered (member_day rows per card,
 * member_all_day rows as ALL_CARDS): per (kind, card_id, member_no), the days that became
 * active and those that stopped; chains without a transition left out. In key order
 * (kind, card_id, member_no), days sorted.
 */
export function chainMoves(rows: readonly MemberDayAfter[]): ChainMove[] {
  const moved = new Map<string, ChainMove>();
  for (const r of rows) {
    const t = dayTransition(r.num, r.delta);
    if (!t) continue;
    const key = chainKey(r);
    const m = moved.get(key) ?? { kind: r.kind, card_id: r.card_id, member_no: r.member_no, ups: [], downs: [] };
    moved.set(key, m);
    (t === 'up' ? m.ups : m.downs).push(r.day);
  }
  return [...moved.values()]
    .map((m) => ({ ...m, ups: [...m.ups].sort(cmp), downs: [...m.downs].sort(cmp) }))
    .sort(byKey((m) => [m.kind, m.card_id, m.member_no]));
}

/** spanDiff of several chains, summed per member_span row, in key order (kind, card_id, day, prev_day); sums of 0 left off. */
export function memberSpanDeltas(
  chains: ReadonlyArray<{ kind: MemberKind; card_id: string; after: readonly string[]; ups: readonly string[]; downs: readonly string[] }>,
): MemberSpanDelta[] {
  const out = new Map<string, MemberSpanDelta>();
  for (const m of chains) {
    for (const p of spanDiff(m.after, m.ups, m.downs)) {
      const key = `${m.kind}\u0000${m.card_id}\u0000${p.day}\u0000${p.prev_day}`;
      const row = out.get(key) ?? { kind: m.kind, card_id: m.card_id, day: p.day, prev_day: p.prev_day, n: 0 };
      out.set(key, row);
      row.n += p.n;
    }
  }
  return [...out.values()].filter((r) => r.n !== 0).sort(byKey((r) => [r.kind, r.card_id, r.day, r.prev_day]));
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/;
const isText = (v: unknown, max: number, min = 0): boolean => typeof v === 'string' && v.length >= min && v.length <= max;

/**
 * What is wrong with a card fact received for a rebuild (null: nothing): the fields of a
 * CardEvent without event_id, the same limits (CardEventDto). A cheap check, for millions.
 */
export function cardFactProblem(f: unknown): string | null {
  if (typeof f !== 'object' || f === null) return 'not an object';
  const x = f as Record<string, unknown>;
  if (!(typeof x.kind === 'string' && x.kind in EFFECT)) return `unknown kind ${JSON.stringify(x.kind)}`;
  if (!isText(x.crm_id, 32, 1)) return 'crm_id must be 1-32 characters';
  if (!isText(x.card_id, 64, 1)) return 'card_id must be 1-64 characters';
  if (!isText(x.title, 256)) return 'title must be text of at most 256 characters';
  if (!isText(x.member_no, 64, 1)) return 'member_no must be 1-64 characters';
  if (!(Number.isInteger(x.count) && (x.count as number) >= 1 && (x.count as number) <= 1_000_000)) return 'count must be a whole number from 1 to 1,000,000';
  if (!(x.channel === null || x.channel === undefined || isText(x.channel, 128))) return 'channel must be null or text of at most 128 characters';
  for (const k of ['occurred_at', 'day_of'] as const) {
    if (!(typeof x[k] === 'string' && ISO_INSTANT.test(x[k]) && !Number.isNaN(Date.parse(x[k])))) return `${k} must be an ISO 8601 instant`;
  }
  return null;
}

/** Every day from `start` to `end` (YYYY-MM-DD, both included); calendar days, counted in UTC milliseconds (no zone, no DST). */
export function daysBetween(start: string, end: string): string[] {
  const out: string[] = [];
  const last = Date.parse(`${end}T00:00:00Z`);
  for (let ms = Date.parse(`${start}T00:00:00Z`); ms <= last; ms += DAY_MS) out.push(new Date(ms).toISOString().slice(0, 10));
  return out;
}

/**
 * The lane (0 .. lanes - 1) of a member's events in a dashboard worker: every event of a
 * member, and every copy of an event, in the same lane (FNV-1a of member_no), so batches
 * of different lanes never share a member.
 */
export function memberLane(memberNo: string, lanes: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < memberNo.length; i++) h = Math.imul(h ^ memberNo.charCodeAt(i), 0x01000193);
  return (h >>> 0) % lanes;
}
