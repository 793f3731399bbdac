import { Inject, Injectable } from '@nestjs/common';
import { ConsumeDirectMsg, Envelope, ErrorCode, fail, invalid, payloadHash, PointsEventView, ProduceByRuleMsg, ProduceDirectMsg } from '@app/domain';
import { AppConfig, Clock, CONFIG } from '@app/platform';
import { RuleRepository } from '../rules/rule.repository';
import { EventBatchService } from './event-batch.service';
import { EventRecorder } from './event-recorder';
import { decimal, eventFields, newEvent } from './journal-event';
import { LedgerRepository } from './ledger.repository';

/** Earning and spending points, idempotent by event_no: directly (in batches per tenant) or by an earning rule. */
@Injectable()
export class EarnSpendService {
  constructor(
    private readonly ledger: LedgerRepository,
    private readonly batch: EventBatchService,
    private readonly recorder: EventRecorder,
    private readonly rules: RuleRepository,
    private readonly clock: Clock,
    @Inject(CONFIG) private readonly cfg: AppConfig,
  ) {}

  /**
   * Earns points: a lot that expires `expire_days` after the event (never when absent) and
   * can be spent `freeze_hours` after it. Answered in a batch (EventBatchService).
   */
  async produceDirect(m: ProduceDirectMsg, deadline?: number): Promise<Envelope<PointsEventView>> {
    const at = this.recorder.eventAt(m.event_at, this.clock.now());
    const e = newEvent({
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
      operator: m.operator ?? null,
      event_desc: m.event_desc ?? null,
      order_items: m.order_info ?? null,
    });
    e.payload_hash = payloadHash({
      op: 'produce',
      ...eventFields(e),
      event_type: m.event_type,
      expire_days: m.expire_days ?? null,
      freeze_hours: m.freeze_hours ?? null,
      event_at: m.event_at ?? null,
    });
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
    const at = this.recorder.eventAt(m.event_at, now);
    const override = m.points === undefined ? null : decimal(m.points);
    const e = newEvent({
      crm_id: m.crm_id,
      event_no: m.event_no,
      member_no: m.member_no,
      event_type: 'produce',
      points: '',
      event_at: at.toJSDate(),
      action_scene: m.action_scene,
      store_code: m.store_code ?? null,
      cost_center: m.cost_center ?? null,
      operator: m.operator ?? null,
      event_desc: m.event_desc ?? null,
      order_items: m.order_items ?? null,
    });
    e.payload_hash = payloadHash({
      op: 'by_rule',
      ...eventFields({ ...e, points: override ?? '' }),
      rule_id: m.rule_id ?? null,
      event_type: m.event_type,
      event_at: m.event_at ?? null,
      // Only when given, so events recorded before these overrides existed keep their hash.
      ...(m.expire_days !== undefined && { expire_days: m.expire_days }),
      ...(m.freeze_hours !== undefined && { freeze_hours: m.freeze_hours }),
    });
    return this.recorder.record(
      e,
      now,
      '积分累积成功',
      async (em) => {
        const rule = await this.rules.applicable(em, m.crm_id, m.action_scene, m.rule_id, at.toJSDate());
        if (!rule) {
          return fail(
            ErrorCode.RULE_NOT_FOUND,
            m.rule_id ? `rule ${m.rule_id} is not an active rule of action_scene ${m.action_scene}` : `no active rule for action_scene ${m.action_scene}`,
          );
        }
        const pay = m.order_items?.pay_amount;
        if (override === null && rule.mode === 'per_amount' && pay === undefined) {
          return invalid([{ field: 'order_items.pay_amount', message: `order_items.pay_amount is required by rule ${rule.rule_id} (points per amount paid)` }]);
        }
        const points = await this.rules.award(
          em,
          m.crm_id,
          m.member_no,
          rule,
          typeof pay === 'number' ? String(pay) : null,
          override,
          at.toJSDate(),
          this.cfg.appTz,
        );
        if (points === '0')
          return fail(
            ErrorCode.RULE_CAP_REACHED,
            `rule ${rule.rule_id} gives member ${m.member_no} no points for this event (its caps are reached, or the amount earns less than 1 point)`,
          );
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
    const e = newEvent({
      crm_id: m.crm_id,
      event_no: m.event_no,
      member_no: m.member_no,
      event_type: 'consume',
      points: decimal(m.points),
      event_at: this.recorder.eventAt(m.event_at, this.clock.now()).toJSDate(),
      action_scene: m.action_scene ?? null,
      store_code: m.store_code ?? null,
      cost_center: m.cost_center ?? null,
      campaign_code: m.campaign_code ?? null,
      operator: m.operator ?? null,
      event_desc: m.event_desc ?? null,
    });
    e.payload_hash = payloadHash({ op: 'consume', ...eventFields(e), event_at: m.event_at ?? null });
    return this.batch.submit({ kind: 'spend', e }, deadline);
  }
}
