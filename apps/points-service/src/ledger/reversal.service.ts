import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { Envelope, ErrorCode, fail, payloadHash, PointsEventView, ReverseConsumeMsg, ReverseProduceMsg } from '@app/domain';
import { Clock } from '@app/platform';
import { EventRecorder } from './event-recorder';
import { decimal, newEvent } from './journal-event';
import { LedgerRepository, NewEvent } from './ledger.repository';
import { OriginEvent, ReversalRepository, TakeBackPlan } from './reversal.repository';

/** Reversals of earns and spends, whole or in part; together the reversals of an event never exceed it (409 40909). */
@Injectable()
export class ReversalService {
  constructor(
    private readonly ledger: LedgerRepository,
    private readonly reversals: ReversalRepository,
    private readonly recorder: EventRecorder,
    private readonly clock: Clock,
  ) {}

  /**
   * Reverses an earn, whole or in part: the points come back out of the earn's lot; what
   * was spent of it, out of the member's other spendable lots; what is still short only
   * with allow_negative (a debt later earns pay first), else 40908 with nothing changed.
   */
  async reverseProduce(m: ReverseProduceMsg): Promise<Envelope<PointsEventView>> {
    const now = this.clock.now();
    const e = this.reversalEvent(m, 'reverse_produce', now, m.refund_info ?? null, { allow_negative: m.allow_negative, refund_info: m.refund_info ?? null });
    let origin: OriginEvent | null = null;
    let plan: TakeBackPlan | null = null;
    return this.recorder.record(
      e,
      now,
      '冲正成功',
      async (em) => {
        origin = await this.reversals.lockOrigin(em, m.crm_id, m.origin_event_no);
        const refused = await this.reversible(em, origin, m, 'produce', e);
        if (refused) return refused;
        const p = await this.reversals.planTakeBack(em, m.crm_id, m.member_no, m.origin_event_no, e.points, now);
        if (!p.covered && !m.allow_negative) {
          return fail(
            ErrorCode.POINTS_INSUFFICIENT,
            `member ${m.member_no} has ${p.available} points to give back, ${e.points} asked (allow_negative lets the balance go below zero)`,
          );
        }
        plan = p;
        return null;
      },
      async (em, eventId) => {
        await this.reversals.takeFromOwnLot(em, e.crm_id, e.member_no, m.origin_event_no, eventId, plan!.own);
        await this.ledger.takeFifo(em, e.crm_id, e.member_no, eventId, plan!.others, now, true);
        await this.reversals.takeOffTotal(em, e.crm_id, e.member_no, e.points, plan!.short, now);
        await this.reversals.markReversed(em, e.crm_id, origin!.auto_id, e.points, now);
      },
    );
  }

  /**
   * Reverses a spend, whole or in part: the points go back to the lots they came from,
   * with those lots' expiry, the lots expiring latest first; the member's used points go down.
   */
  async reverseConsume(m: ReverseConsumeMsg): Promise<Envelope<PointsEventView>> {
    const now = this.clock.now();
    const e = this.reversalEvent(m, 'reverse_consume', now, null);
    let origin: OriginEvent | null = null;
    return this.recorder.record(
      e,
      now,
      '冲正成功',
      async (em) => {
        origin = await this.reversals.lockOrigin(em, m.crm_id, m.origin_event_no);
        return this.reversible(em, origin, m, 'consume', e);
      },
      async (em) => {
        await this.ledger.returnAllocations(em, e.crm_id, origin!.auto_id, e.points);
        await this.reversals.markReversed(em, e.crm_id, origin!.auto_id, e.points, now);
        await this.ledger.addUsed(em, e.crm_id, e.member_no, `-${e.points}`, now);
      },
    );
  }

  /** The journal row of a reversal; its points are decided under the member's lock. */
  private reversalEvent(m: ReverseConsumeMsg, type: string, now: Date, orderItems: unknown, extra: Record<string, unknown> = {}): NewEvent {
    return newEvent({
      crm_id: m.crm_id,
      event_no: m.event_no,
      member_no: m.member_no,
      event_type: type,
      points: '',
      event_at: this.recorder.eventAt(m.event_at, now).toJSDate(),
      order_items: orderItems,
      origin_event_no: m.origin_event_no,
      payload_hash: payloadHash({
        op: type,
        member_no: m.member_no,
        origin_event_no: m.origin_event_no,
        reverse_points: m.reverse_points === undefined ? null : decimal(m.reverse_points),
        event_at: m.event_at ?? null,
        ...extra,
      }),
    });
  }

  /** Whether `origin` is an event of `kind` of this member with enough left to reverse; sets the reversal's points. */
  private async reversible(
    em: EntityManager,
    origin: OriginEvent | null,
    m: ReverseConsumeMsg,
    kind: 'produce' | 'consume',
    e: NewEvent,
  ): Promise<Envelope<never> | null> {
    const what = kind === 'produce' ? 'earn' : 'spend';
    if (!origin || origin.member_no !== m.member_no || origin.event_type !== kind) {
      return fail(ErrorCode.EVENT_NOT_FOUND, `member ${m.member_no} has no ${what} with event_no ${m.origin_event_no}`);
    }
    if (origin.open === '0') return fail(ErrorCode.REVERSE_EXCEEDS, `${what} ${m.origin_event_no} has been reversed wholly already`);
    e.points = m.reverse_points === undefined ? origin.open : decimal(m.reverse_points);
    if (!(await this.reversals.atMost(em, e.points, origin.open))) {
      return fail(ErrorCode.REVERSE_EXCEEDS, `${what} ${m.origin_event_no} of ${origin.points} points has ${origin.open} left to reverse, ${e.points} asked`);
    }
    return null;
  }
}
