import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import {
  CardEventKind,
  CodeStatus,
  Envelope,
  ErrorCode,
  fail,
  ok,
  originalRedeem,
  RedeemIdMsg,
  RedeemMsg,
  RedeemView,
  unusableAt,
  STATUS_WORD,
  payloadHash,
} from '@app/domain';
import { AppConfig, Clock, CONFIG, settleWrite } from '@app/platform';
import { CodeRepository } from './code.repository';
import { RedeemRepository } from './redeem.repository';
import { OutboxEvent, OutboxRepository } from '../outbox/outbox.repository';

/** Redemptions and their reversal. */
@Injectable()
export class RedeemService {
  constructor(
    private readonly db: DataSource,
    private readonly codes: CodeRepository,
    private readonly redeems: RedeemRepository,
    private readonly outbox: OutboxRepository,
    private readonly clock: Clock,
    @Inject(CONFIG) private readonly cfg: AppConfig,
  ) {}

  /**
   * Redeems a member's code: it must be usable now (validity, weekdays, monthdays, time
   * of day in the tenant's zone) and within the card's use_limit; a `redeem` card event.
   * Idempotent by redeem_id (a repeat writes nothing).
   */
  async redeem(m: RedeemMsg): Promise<Envelope<RedeemView>> {
    const hash = payloadHash({
      op: 'redeem',
      member_no: m.member_no,
      card_id: m.card_id,
      card_code: m.card_code,
      redeem_channel: m.redeem_channel,
      redeem_extra: m.redeem_extra,
    });
    const now = this.clock.now();
    // 'taken': the redeem_id is recorded already (nothing was written): a repeat or a conflict.
    const outcome = await this.db.transaction(async (em): Promise<Envelope<never> | 'taken' | 'done'> => {
      const h = await this.codes.lockHolding(em, m.crm_id, m.member_no, m.card_id, m.card_code);
      if (await this.redeems.redeemRecord(em, m.crm_id, m.redeem_id, this.cfg.appTz)) return 'taken';
      if (!h) return fail(ErrorCode.CODE_NOT_FOUND, `member ${m.member_no} holds no code ${m.card_code} of card ${m.card_id}`);
      if (h.code_status !== CodeStatus.USABLE)
        return fail(ErrorCode.CODE_NOT_USABLE, `code ${m.card_code} is ${STATUS_WORD[h.code_status] ?? `in status ${h.code_status}`}`);
      const why = unusableAt(h, { begin: h.begin_time, end: h.end_time }, now, this.cfg.appTz);
      if (why) return fail(ErrorCode.CODE_NOT_USABLE, `code ${m.card_code} ${why.message}`);
      if (h.use_limit > 0) {
        const used = (await this.codes.memberRecord(em, m.crm_id, m.card_id, m.member_no, true)).used_sum;
        if (used + 1 > h.use_limit)
          return fail(ErrorCode.USE_LIMIT_REACHED, `member ${m.member_no} may redeem at most ${h.use_limit} of card ${m.card_id} and has redeemed ${used}`);
      }
      if (!(await this.redeems.insertRedeem(em, { crm_id: m.crm_id, redeem_id: m.redeem_id, h, channel: m.redeem_channel, extra: m.redeem_extra, hash, now })))
        return 'taken';
      await this.codes.setStatus(em, m.crm_id, h.auto_id, CodeStatus.REDEEMED, now, { redeem_time: now });
      await this.codes.addToRecord(em, m.crm_id, m.card_id, m.member_no, 0, 1, now);
      await this.outbox.add(em, [
        {
          crm_id: m.crm_id,
          kind: CardEventKind.REDEEM,
          card_id: m.card_id,
          member_no: m.member_no,
          count: 1,
          channel: m.redeem_channel,
          occurred_at: now,
          day_of: now,
          ref: m.redeem_id,
          codes: [m.card_code],
        },
      ]);
      return 'done';
    });
    return settleWrite(
      outcome,
      { name: 'redeem_id', value: m.redeem_id },
      hash,
      () => this.redeems.payloadHash(this.db.manager, m.crm_id, m.redeem_id),
      async () => ok(originalRedeem((await this.redeems.redeemRecord(this.db.manager, m.crm_id, m.redeem_id, this.cfg.appTz))!), '核销成功'),
    );
  }

  /**
   * Rolls a redemption back: the code is usable again, or expired when its end has
   * passed meanwhile; the member's use count is given back. Card events: `redeem_reverse`
   * (day_of = the redemption's time), and `expire` when the code expired meanwhile.
   * Repeating it answers the same and writes nothing.
   */
  async reverse(m: RedeemIdMsg): Promise<Envelope<RedeemView>> {
    const now = this.clock.now();
    const refused = await this.db.transaction(async (em): Promise<Envelope<never> | null> => {
      const r = await this.redeems.lockRedeem(em, m.crm_id, m.redeem_id);
      if (!r) return fail(ErrorCode.REDEEM_NOT_FOUND, `no redemption with redeem_id ${m.redeem_id}`);
      if (r.rollback_status === 1) return null;
      const h = await this.codes.lockHoldingById(em, m.crm_id, r.holder_id);
      if (h.code_status !== CodeStatus.REDEEMED) throw new Error(`redemption ${m.redeem_id}: its code is ${STATUS_WORD[h.code_status]}, not redeemed`);
      const expired = h.end_time !== null && now > h.end_time;
      await this.codes.setStatus(em, m.crm_id, h.auto_id, expired ? CodeStatus.EXPIRED : CodeStatus.USABLE, now, { redeem_time: null, expired });
      if (expired) await this.codes.recordExpired(em, h, now);
      await this.codes.addToRecord(em, m.crm_id, r.card_id, r.member_no, 0, -1, now);
      await this.redeems.rollBackRedeem(em, m.crm_id, m.redeem_id, now);
      // Counts against the redemption: its day, channel and member. A code that ended meanwhile also expires now.
      const events: OutboxEvent[] = [
        {
          crm_id: m.crm_id,
          kind: CardEventKind.REDEEM_REVERSE,
          card_id: r.card_id,
          member_no: r.member_no,
          count: 1,
          channel: r.redeem_channel,
          occurred_at: now,
          day_of: r.redeem_time,
          ref: m.redeem_id,
          codes: [h.card_code],
        },
      ];
      if (expired)
        events.push({
          crm_id: m.crm_id,
          kind: CardEventKind.EXPIRE,
          card_id: h.card_id,
          member_no: h.member_no,
          count: 1,
          channel: null,
          occurred_at: now,
          day_of: now,
          ref: null,
          codes: [h.card_code],
        });
      await this.outbox.add(em, events);
      return null;
    });
    return refused ?? ok((await this.redeems.redeemRecord(this.db.manager, m.crm_id, m.redeem_id, this.cfg.appTz))!, '冲正成功');
  }
}
