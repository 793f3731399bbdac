import { Inject, Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { DateTime } from 'luxon';
import { Decimal } from 'decimal.js';
import {
  ConsumeDirectMsg,
  Envelope,
  ErrorCode,
  fail,
  HistoryMsg,
  invalid,
  MemberQueryMsg,
  ok,
  Page,
  payloadHash,
  PointsEventView,
  PointsSummaryView,
  ProduceByRuleMsg,
  ProduceDirectMsg,
  ReverseConsumeMsg,
  ReverseProduceMsg,
  TransferDirectMsg,
  TransferMsg,
  AcceptMsg,
} from '@app/domain';
import { AppConfig, Clock, CONFIG, drainInBatches, settleWrite } from '@app/platform';
import { RuleRepository } from '../rules/rule.repository';
import { EventBatchService } from './event-batch.service';
import { LedgerRepository, NewEvent, OriginEvent, TransferRow } from './ledger.repository';

/**
 * Decimal text of an amount that passed validation (a JSON number with at most 4 decimal
 * places): its shortest representation is its exact decimal value. Arithmetic happens in
 * PostgreSQL numeric only.
 */
const decimal = (points: number): string => {
  const text = String(points);
  if (!/^\d+(\.\d{1,4})?$/.test(text)) throw new Error(`points ${text} is not a plain decimal with at most 4 places`);
  return text;
};

const HOUR_MS = 3_600_000;

/** The spec's accept also names the transfer's own fields: the first one given that is not the transfer's, described, or null. */
function transferDiffers(t: TransferRow, m: AcceptMsg): string | null {
  if (m.from_user !== undefined && m.from_user !== t.from_user) return `from_user ${t.from_user}, not ${m.from_user}`;
  if (m.points !== undefined && !new Decimal(decimal(m.points)).equals(t.points)) return `points ${new Decimal(t.points).toString()}, not ${m.points}`;
  if (m.trans_type !== undefined && m.trans_type !== t.trans_type) return `trans_type ${t.trans_type ?? '(none)'}, not ${m.trans_type}`;
  return null;
}

/**
 * An event that records nothing (refused, or its event_no is taken): thrown inside the
 * transaction so that even the member row it may have created is rolled back.
 */
class Unrecorded extends Error {
  constructor(readonly outcome: Envelope<never> | 'taken') {
    super('unrecorded');
  }
}

/** What makes an event's payload, in a fixed order (the order of the request's keys does not matter). */
const eventFields = (e: NewEvent) => ({
  member_no: e.member_no,
  points: e.points,
  action_scene: e.action_scene,
  store_code: e.store_code,
  cost_center: e.cost_center,
  campaign_code: e.campaign_code,
  operator: e.operator,
  event_desc: e.event_desc,
  order_items: e.order_items,
});

/**
 * Earning and spending points, idempotent by event_no. Earns and spends go through
 * EventBatchService; the other events take one transaction each, under their members' locks.
 */
@Injectable()
export class LedgerService {
  constructor(
    private readonly db: DataSource,
    private readonly ledger: LedgerRepository,
    private readonly batch: EventBatchService,
    private readonly rules: RuleRepository,
    private readonly clock: Clock,
    @Inject(CONFIG) private readonly cfg: AppConfig,
  ) {}

  /** The event time given (tenant zone), else now. */
  private eventAt(text: string | undefined, now: Date): DateTime {
    return text ? DateTime.fromFormat(text, 'yyyy-MM-dd HH:mm:ss', { zone: this.cfg.appTz }) : DateTime.fromJSDate(now, { zone: this.cfg.appTz });
  }

  /**
   * Earns points: a lot that expires `expire_days` after the event (never when absent) and
   * can be spent `freeze_hours` after it. Answered in a batch (EventBatchService).
   */
  async produceDirect(m: ProduceDirectMsg, deadline?: number): Promise<Envelope<PointsEventView>> {
    const now = this.clock.now();
    const at = this.eventAt(m.event_at, now);
    const e: NewEvent = {
      crm_id: m.crm_id,
      event_no: m.event_no,
      member_no: m.member_no,
      event_type: 'produce',
      points: decimal(m.points),
      event_at: at.toJSDate(),
      expire_time: m.expire_days ? at.plus({ days: m.expire_days }).toJSDate() : null,
      unfreeze_time: m.freeze_hours ? at.plus({ hours: m.freeze_hours }).toJSDate() : null,
      action_scene: m.action_scene ?? m.event_type,
      store_code: m.store_code ?? null,
      cost_center: m.cost_center ?? null,
      campaign_code: null,
      operator: m.operator ?? null,
      event_desc: m.event_desc ?? null,
      order_items: m.order_info ?? null,
      origin_event_no: null,
      payload_hash: '',
    };
    e.payload_hash = payloadHash({ op: 'produce', ...eventFields(e), event_type: m.event_type, expire_days: m.expire_days ?? null, freeze_hours: m.freeze_hours ?? null, event_at: m.event_at ?? null });
    return this.batch.submit({ kind: 'earn', e }, deadline);
  }

  /**
   * Earns points by a rule: `rule_id`, else the newest active rule of the scene; the
   * rule's points (fixed, or pay_amount x rate rounded to whole points) unless `points`
   * overrides them, within the rule's daily and total caps per member; the rule's expiry
   * and freezing unless the request gives expire_days / freeze_hours. No rule: 404 40410;
   * nothing left under the caps: 409 40910.
   */
  async produceByRule(m: ProduceByRuleMsg): Promise<Envelope<PointsEventView>> {
    const now = this.clock.now();
    const at = this.eventAt(m.event_at, now);
    const override = m.points === undefined ? null : decimal(m.points);
    const e: NewEvent = {
      crm_id: m.crm_id,
      event_no: m.event_no,
      member_no: m.member_no,
      event_type: 'produce',
      points: '',
      event_at: at.toJSDate(),
      expire_time: null,
      unfreeze_time: null,
      action_scene: m.action_scene,
      store_code: m.store_code ?? null,
      cost_center: m.cost_center ?? null,
      campaign_code: null,
      operator: m.operator ?? null,
      event_desc: m.event_desc ?? null,
      order_items: m.order_items ?? null,
      origin_event_no: null,
      payload_hash: '',
    };
    e.payload_hash = payloadHash({ op: 'by_rule', ...eventFields({ ...e, points: override ?? '' }), rule_id: m.rule_id ?? null, event_type: m.event_type, event_at: m.event_at ?? null,
      // Only when given, so events recorded before these overrides existed keep their hash.
      ...(m.expire_days !== undefined && { expire_days: m.expire_days }), ...(m.freeze_hours !== undefined && { freeze_hours: m.freeze_hours }) });
    return this.record(
      e,
      now,
      '积分累积成功',
      async (em) => {
        const rule = await this.rules.applicable(em, m.crm_id, m.action_scene, m.rule_id, at.toJSDate());
        if (!rule) {
          return fail(ErrorCode.RULE_NOT_FOUND, m.rule_id ? `rule ${m.rule_id} is not an active rule of action_scene ${m.action_scene}` : `no active rule for action_scene ${m.action_scene}`);
        }
        const pay = m.order_items?.pay_amount;
        if (override === null && rule.mode === 'per_amount' && pay === undefined) {
          return invalid([{ field: 'order_items.pay_amount', message: `order_items.pay_amount is required by rule ${rule.rule_id} (points per amount paid)` }]);
        }
        const points = await this.rules.award(em, m.crm_id, m.member_no, rule, typeof pay === 'number' ? String(pay) : null, override, at.toJSDate(), this.cfg.appTz);
        if (points === '0') return fail(ErrorCode.RULE_CAP_REACHED, `rule ${rule.rule_id} gives member ${m.member_no} no points for this event (its caps are reached, or the amount earns less than 1 point)`);
        e.points = points;
        e.rule_id = rule.rule_id;
        const expireDays = m.expire_days ?? rule.expire_days;
        const freezeHours = m.freeze_hours ?? rule.freeze_hours;
        e.expire_time = expireDays ? at.plus({ days: expireDays }).toJSDate() : null;
        e.unfreeze_time = freezeHours ? at.plus({ hours: freezeHours }).toJSDate() : null;
        return null;
      },
      (em) => this.ledger.addLot(em, e, now),
    );
  }

  /** Spends points from the spendable lots, soonest expiry first. Not enough: 40908, nothing changed. Answered in a batch. */
  async consumeDirect(m: ConsumeDirectMsg, deadline?: number): Promise<Envelope<PointsEventView>> {
    const now = this.clock.now();
    const e: NewEvent = {
      crm_id: m.crm_id,
      event_no: m.event_no,
      member_no: m.member_no,
      event_type: 'consume',
      points: decimal(m.points),
      event_at: this.eventAt(m.event_at, now).toJSDate(),
      expire_time: null,
      unfreeze_time: null,
      action_scene: m.action_scene ?? null,
      store_code: m.store_code ?? null,
      cost_center: m.cost_center ?? null,
      campaign_code: m.campaign_code ?? null,
      operator: m.operator ?? null,
      event_desc: m.event_desc ?? null,
      order_items: null,
      origin_event_no: null,
      payload_hash: '',
    };
    e.payload_hash = payloadHash({ op: 'consume', ...eventFields(e), event_at: m.event_at ?? null });
    return this.batch.submit({ kind: 'spend', e }, deadline);
  }

  /**
   * Reverses an earn, whole or in part: the points come back out of the earn's lot; what
   * was spent of it, out of the member's other spendable lots; what is still short only
   * with allow_negative (a debt later earns pay first), else 40908 with nothing changed.
   * Together the reversals of an earn never exceed it (409 40909).
   */
  async reverseProduce(m: ReverseProduceMsg): Promise<Envelope<PointsEventView>> {
    const now = this.clock.now();
    const e = this.reversalEvent(m, 'reverse_produce', now, m.refund_info ?? null, { allow_negative: m.allow_negative, refund_info: m.refund_info ?? null });
    let origin: OriginEvent | null = null;
    let plan: { own: string; others: string; short: string } | null = null;
    return this.record(
      e,
      now,
      '冲正成功',
      async (em) => {
        origin = await this.ledger.lockOrigin(em, m.crm_id, m.origin_event_no);
        const refused = await this.reversible(em, origin, m, 'produce', e);
        if (refused) return refused;
        const p = await this.ledger.planTakeBack(em, m.crm_id, m.member_no, m.origin_event_no, e.points, now);
        if (!p.covered && !m.allow_negative) {
          return fail(ErrorCode.POINTS_INSUFFICIENT, `member ${m.member_no} has ${p.available} points to give back, ${e.points} asked (allow_negative lets the balance go below zero)`);
        }
        plan = p;
        return null;
      },
      (em, eventId) => this.ledger.takeBack(em, e.crm_id, e.member_no, { ...origin!, event_no: m.origin_event_no }, eventId, e.points, plan!, now),
    );
  }

  /** The journal row of a reversal; its points are decided under the member's lock. */
  private reversalEvent(m: ReverseConsumeMsg, type: string, now: Date, orderItems: unknown, extra: Record<string, unknown> = {}): NewEvent {
    return {
      crm_id: m.crm_id,
      event_no: m.event_no,
      member_no: m.member_no,
      event_type: type,
      points: '',
      event_at: this.eventAt(m.event_at, now).toJSDate(),
      expire_time: null,
      unfreeze_time: null,
      action_scene: null,
      store_code: null,
      cost_center: null,
      campaign_code: null,
      operator: null,
      event_desc: null,
      order_items: orderItems,
      origin_event_no: m.origin_event_no,
      payload_hash: payloadHash({
        op: type, member_no: m.member_no, origin_event_no: m.origin_event_no,
        reverse_points: m.reverse_points === undefined ? null : decimal(m.reverse_points), event_at: m.event_at ?? null, ...extra,
      }),
    };
  }

  /** Whether `origin` is an event of `kind` of this member with enough left to reverse; sets the reversal's points. */
  private async reversible(em: EntityManager, origin: OriginEvent | null, m: ReverseConsumeMsg, kind: 'produce' | 'consume', e: NewEvent): Promise<Envelope<never> | null> {
    const what = kind === 'produce' ? 'earn' : 'spend';
    if (!origin || origin.member_no !== m.member_no || origin.event_type !== kind) {
      return fail(ErrorCode.EVENT_NOT_FOUND, `member ${m.member_no} has no ${what} with event_no ${m.origin_event_no}`);
    }
    if (origin.open === '0') return fail(ErrorCode.REVERSE_EXCEEDS, `${what} ${m.origin_event_no} has been reversed wholly already`);
    e.points = m.reverse_points === undefined ? origin.open : decimal(m.reverse_points);
    if (!(await this.ledger.atMost(em, e.points, origin.open))) {
      return fail(ErrorCode.REVERSE_EXCEEDS, `${what} ${m.origin_event_no} of ${origin.points} points has ${origin.open} left to reverse, ${e.points} asked`);
    }
    return null;
  }

  /**
   * Reverses a spend, whole or in part: the points go back to the lots they came from,
   * with those lots' expiry. However many partial reversals arrive, together they never
   * give back more than the spend took (409 40909).
   */
  async reverseConsume(m: ReverseConsumeMsg): Promise<Envelope<PointsEventView>> {
    const now = this.clock.now();
    const e = this.reversalEvent(m, 'reverse_consume', now, null);
    let origin: OriginEvent | null = null;
    return this.record(
      e,
      now,
      '冲正成功',
      async (em) => {
        origin = await this.ledger.lockOrigin(em, m.crm_id, m.origin_event_no);
        return this.reversible(em, origin, m, 'consume', e);
      },
      (em) => this.ledger.giveBack(em, e.crm_id, e.member_no, origin!, e.points, now),
    );
  }

  /**
   * Moves points from one member to another at once: from the sender's spendable lots,
   * soonest expiry first, into lots of the receiver that keep those lots' expiry. Two
   * journal rows: `transfer_out` under transfer_no, `transfer_in` under `in#<transfer_no>`.
   * Idempotent by transfer_no; not enough spendable points: 40908, nothing changed.
   */
  async transferDirect(m: TransferDirectMsg): Promise<Envelope<PointsEventView>> {
    const now = this.clock.now();
    const points = decimal(m.points);
    const base = { crm_id: m.crm_id, points, event_at: now, expire_time: null, unfreeze_time: null, action_scene: null, store_code: null, cost_center: null,
      campaign_code: null, operator: null, event_desc: null, order_items: null, origin_event_no: null };
    const hash = payloadHash({ op: 'transfer', from_user: m.from_user, to_user: m.to_user, points, trans_type: m.trans_type ?? null });
    const out: NewEvent = { ...base, event_no: m.transfer_no, member_no: m.from_user, event_type: 'transfer_out', payload_hash: hash, trans_type: m.trans_type ?? null };
    const into: NewEvent = { ...base, event_no: `in#${m.transfer_no}`, member_no: m.to_user, event_type: 'transfer_in', payload_hash: hash, trans_type: m.trans_type ?? null };
    let outcome: Envelope<never> | 'taken' | 'done';
    try {
      outcome = await this.db.transaction(async (em): Promise<'done'> => {
        // Both members, in a fixed order: transfers both ways at once cannot deadlock.
        for (const member of [m.from_user, m.to_user].sort()) await this.ledger.lockMember(em, m.crm_id, member, now);
        if (await this.ledger.payloadHash(m.crm_id, m.transfer_no, em)) throw new Unrecorded('taken');
        const { available, enough } = await this.ledger.spendable(em, m.crm_id, m.from_user, now, points);
        if (!enough) throw new Unrecorded(fail(ErrorCode.POINTS_INSUFFICIENT, `member ${m.from_user} has ${available} spendable points, ${points} asked`));
        const outId = await this.ledger.insertEvent(em, out, now, m.transfer_no);
        if (outId === null) throw new Unrecorded('taken');
        if ((await this.ledger.insertEvent(em, into, now, m.transfer_no)) === null) throw new Error(`journal row ${into.event_no} exists already`);
        await this.ledger.transfer(em, m.crm_id, m.from_user, m.to_user, outId, into.event_no, points, now);
        return 'done';
      });
    } catch (err) {
      if (!(err instanceof Unrecorded)) throw err;
      outcome = err.outcome;
    }
    return settleWrite(
      outcome,
      { name: 'transfer_no', value: m.transfer_no },
      hash,
      () => this.ledger.payloadHash(m.crm_id, m.transfer_no),
      async () => ok((await this.ledger.event(m.crm_id, m.transfer_no, this.cfg.appTz))!, '转赠成功'),
    );
  }

  /**
   * A transfer the receiver must accept: the points are held from the sender at once
   * (journal `transfer_out`, counted as used) and go to the receiver on accept, or back
   * to the sender's lots when not accepted within TRANSFER_TIMEOUT_HOURS. Idempotent by transfer_no.
   */
  async transfer(m: TransferMsg): Promise<Envelope<PointsEventView>> {
    const now = this.clock.now();
    const points = decimal(m.points);
    const hash = payloadHash({ op: 'transfer_pending', from_user: m.from_user, to_user: m.to_user, points, trans_type: m.trans_type ?? null });
    const out: NewEvent = {
      crm_id: m.crm_id, event_no: m.transfer_no, member_no: m.from_user, event_type: 'transfer_out', points, event_at: now, expire_time: null,
      unfreeze_time: null, action_scene: null, store_code: null, cost_center: null, campaign_code: null, operator: null, event_desc: null,
      order_items: null, origin_event_no: null, payload_hash: hash, trans_type: m.trans_type ?? null,
    };
    return this.record(
      out,
      now,
      '转赠成功',
      async (em) => {
        const { available, enough } = await this.ledger.spendable(em, m.crm_id, m.from_user, now, points);
        return enough ? null : fail(ErrorCode.POINTS_INSUFFICIENT, `member ${m.from_user} has ${available} spendable points, ${points} asked`);
      },
      async (em, outId) => {
        await this.ledger.holdTransfer(em, m.crm_id, m.from_user, outId, points, now);
        await this.ledger.insertTransfer(em, m.crm_id, { transfer_no: m.transfer_no, from_user: m.from_user, to_user: m.to_user, points, out_event_id: outId }, now);
      },
      m.transfer_no,
    );
  }

  /** The receiver takes a held transfer: lots keeping the expiry of the lots the points came from. Accepting again answers the same. */
  async accept(m: AcceptMsg): Promise<Envelope<PointsEventView>> {
    const now = this.clock.now();
    const t = await this.ledger.findTransfer(m.crm_id, m.transfer_no);
    if (!t || t.to_user !== m.member_no) return fail(ErrorCode.TRANSFER_NOT_FOUND, `no transfer ${m.transfer_no} to member ${m.member_no}`);
    const differs = transferDiffers(t, m);
    if (differs) return fail(ErrorCode.IDEMPOTENCY_CONFLICT, `transfer ${m.transfer_no} was made with ${differs}`);
    const inEventNo = `in#${m.transfer_no}`;
    const outcome = await this.db.transaction(async (em): Promise<Envelope<never> | 'done'> => {
      for (const member of [t.from_user, t.to_user].sort()) await this.ledger.lockMember(em, m.crm_id, member, now);
      const locked = (await this.ledger.findTransfer(m.crm_id, m.transfer_no, em, true))!;
      if (locked.status === 'accepted') return 'done';
      if (locked.status === 'returned') return fail(ErrorCode.TRANSFER_CLOSED, `transfer ${m.transfer_no} was not accepted in time and went back to ${t.from_user}`);
      if (now.getTime() > locked.create_time.getTime() + this.cfg.transferTimeoutHours * HOUR_MS) {
        return fail(ErrorCode.TRANSFER_CLOSED, `transfer ${m.transfer_no} was not accepted within ${this.cfg.transferTimeoutHours} hours`);
      }
      const into: NewEvent = {
        crm_id: m.crm_id, event_no: inEventNo, member_no: t.to_user, event_type: 'transfer_in', points: t.points, event_at: now, expire_time: null,
        unfreeze_time: null, action_scene: null, store_code: null, cost_center: null, campaign_code: null, operator: null, event_desc: null,
        order_items: null, origin_event_no: null, payload_hash: '', trans_type: t.trans_type,
      };
      await this.ledger.insertEvent(em, into, now, m.transfer_no);
      const pieces = await this.ledger.heldPieces(em, m.crm_id, t.out_event_id);
      await this.ledger.receiveLots(em, m.crm_id, t.to_user, inEventNo, pieces, t.points, now);
      await this.ledger.closeTransfer(em, m.crm_id, m.transfer_no, 'accepted', now);
      return 'done';
    });
    if (outcome !== 'done') return outcome;
    return ok((await this.ledger.event(m.crm_id, inEventNo, this.cfg.appTz))!, '领取成功');
  }

  /** Sweep: transfers not accepted within TRANSFER_TIMEOUT_HOURS go back to the senders' lots, each in its own transaction. */
  async returnTimedOutTransfers(): Promise<number> {
    const now = this.clock.now();
    const before = new Date(now.getTime() - this.cfg.transferTimeoutHours * HOUR_MS);
    let returned = 0;
    await drainInBatches(this.cfg.expiryBatchSize, async (size) => {
      const due = await this.ledger.dueTransfers(before, size);
      for (const d of due) if (await this.returnTransfer(d.crm_id, d.transfer_no, now, before)) returned++;
      return due.length;
    });
    return returned;
  }

  private async returnTransfer(crmId: string, transferNo: string, now: Date, before: Date): Promise<boolean> {
    const t = await this.ledger.findTransfer(crmId, transferNo);
    if (!t) return false;
    return this.db.transaction(async (em) => {
      for (const member of [t.from_user, t.to_user].sort()) await this.ledger.lockMember(em, crmId, member, now);
      const locked = (await this.ledger.findTransfer(crmId, transferNo, em, true))!;
      // Accepted or returned meanwhile (by the receiver, or another worker): nothing to do.
      if (locked.status !== 'pending' || locked.create_time >= before) return false;
      await this.ledger.returnAllocations(em, crmId, t.out_event_id, t.points);
      await this.ledger.addUsed(em, crmId, t.from_user, `-${t.points}`, now);
      const back: NewEvent = {
        crm_id: crmId, event_no: `back#${transferNo}`, member_no: t.from_user, event_type: 'transfer_back', points: t.points, event_at: now,
        expire_time: null, unfreeze_time: null, action_scene: null, store_code: null, cost_center: null, campaign_code: null, operator: null,
        event_desc: null, order_items: null, origin_event_no: null, payload_hash: '', trans_type: t.trans_type,
      };
      await this.ledger.insertEvent(em, back, now, transferNo);
      await this.ledger.closeTransfer(em, crmId, transferNo, 'returned', now);
      return true;
    });
  }

  /** Sweep: an `expired` history row for each lot past its expiry, in batches. */
  async expireLots(): Promise<number> {
    const now = this.clock.now();
    return drainInBatches(this.cfg.expiryBatchSize, (size) => this.ledger.expireDue(now, size));
  }

  /**
   * One event in one transaction: the member's lock, then the event_no (a repeat answers
   * the original event, another payload under it is 40901), then `check`, the journal
   * row, and `apply`. A refusal or a taken event_no rolls everything back.
   */
  private async record(
    e: NewEvent,
    now: Date,
    msg: string,
    check: (em: EntityManager) => Promise<Envelope<never> | null>,
    apply: (em: EntityManager, eventId: number) => Promise<void>,
    fromTransferNo: string | null = null,
  ): Promise<Envelope<PointsEventView>> {
    let outcome: Envelope<never> | 'taken' | 'done';
    try {
      outcome = await this.db.transaction(async (em): Promise<'done'> => {
        await this.ledger.lockMember(em, e.crm_id, e.member_no, now);
        if (await this.ledger.payloadHash(e.crm_id, e.event_no, em)) throw new Unrecorded('taken');
        const refused = await check(em);
        if (refused) throw new Unrecorded(refused);
        const eventId = await this.ledger.insertEvent(em, e, now, fromTransferNo);
        if (eventId === null) throw new Unrecorded('taken'); // recorded meanwhile for another member
        await apply(em, eventId);
        return 'done';
      });
    } catch (err) {
      if (!(err instanceof Unrecorded)) throw err;
      outcome = err.outcome;
    }
    return settleWrite(
      outcome,
      { name: 'event_no', value: e.event_no },
      e.payload_hash,
      () => this.ledger.payloadHash(e.crm_id, e.event_no),
      async () => ok((await this.ledger.event(e.crm_id, e.event_no, this.cfg.appTz))!, msg),
    );
  }

  async summary(m: MemberQueryMsg): Promise<Envelope<PointsSummaryView>> {
    return ok(await this.ledger.summary(m.crm_id, m.member_no, this.clock.now(), this.cfg.appTz), 'OK');
  }

  async history(m: HistoryMsg): Promise<Envelope<{ total: number; items: PointsEventView[] }>> {
    const page: Page<PointsEventView> = await this.ledger.history(m, this.cfg.appTz, this.clock.now());
    return ok({ total: page.total, items: page.result }, 'OK');
  }
}
