import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import {
  CardEventKind,
  CodeStatus,
  Envelope,
  ErrorCode,
  fail,
  MemberCodeView,
  ok,
  originalGiftRow,
  originalPresent,
  PresentIdMsg,
  PresentListMsg,
  PresentMsg,
  PresentReceiveMsg,
  PresentView,
  STATUS_WORD,
  payloadHash,
} from '@app/domain';
import { AppConfig, Clock, CONFIG, drainInBatches, settleWrite } from '@app/platform';
import { CodeRepository } from './code.repository';
import { GiftRepository } from './gift.repository';
import { OutboxRepository } from '../outbox/outbox.repository';

const HOUR_MS = 3_600_000;

/** Gifts: a member gives a usable code; the first friend to accept it gets it; unaccepted gifts go back. */
@Injectable()
export class GiftService {
  constructor(
    private readonly db: DataSource,
    private readonly codes: CodeRepository,
    private readonly gifts: GiftRepository,
    private readonly outbox: OutboxRepository,
    private readonly clock: Clock,
    @Inject(CONFIG) private readonly cfg: AppConfig,
  ) {}

  /** Puts a code up as a gift (status 2), with a `gift` card event. Idempotent by present_id (a repeat writes nothing). */
  async present(m: PresentMsg): Promise<Envelope<PresentView>> {
    const presentId = m.present_id!;
    const hash = payloadHash({ op: 'present', member_no: m.member_no, card_id: m.card_id, card_code: m.card_code, present_extra: m.presant_extra });
    const now = this.clock.now();
    // 'taken': the present_id is recorded already (nothing was written): a repeat or a conflict.
    const outcome = await this.db.transaction(async (em): Promise<Envelope<never> | 'taken' | 'done'> => {
      const h = await this.codes.lockHolding(em, m.crm_id, m.member_no, m.card_id, m.card_code);
      // A repeat finds its own gift (the holding is then being gifted): decided below.
      if (await this.gifts.present(em, m.crm_id, presentId, this.cfg.appTz)) return 'taken';
      if (!h) return fail(ErrorCode.CODE_NOT_FOUND, `member ${m.member_no} holds no code ${m.card_code} of card ${m.card_id}`);
      if (!h.can_give_friend) return fail(ErrorCode.GIFT_NOT_ALLOWED, `card ${m.card_id} may not be given to a friend`);
      const refusal = notUsable(h, now);
      if (refusal) return refusal;
      if (!(await this.gifts.insertPresent(em, { crm_id: m.crm_id, present_id: presentId, h, extra: m.presant_extra, hash, now }))) return 'taken';
      await this.codes.setStatus(em, m.crm_id, h.auto_id, CodeStatus.GIFTING, now, { present_time: now });
      await this.outbox.add(em, [
        {
          crm_id: m.crm_id,
          kind: CardEventKind.GIFT,
          card_id: h.card_id,
          member_no: h.member_no,
          count: 1,
          channel: null,
          occurred_at: now,
          day_of: now,
          ref: presentId,
          codes: [h.card_code],
        },
      ]);
      return 'done';
    });
    return settleWrite(
      outcome,
      { name: 'present_id', value: presentId },
      hash,
      () => this.gifts.payloadHash(this.db.manager, m.crm_id, presentId),
      async () => ok(originalPresent((await this.gifts.present(this.db.manager, m.crm_id, presentId, this.cfg.appTz))!), '转增成功'),
    );
  }

  /**
   * The friend takes the gift: a new holding of the code (receive_type 1), counted
   * against the friend's get_limit; the giver's row becomes "given away" (6); a
   * `gift_accept` card event for the friend. One friend wins; the same friend asking
   * again gets the same answer (and writes nothing).
   */
  async accept(m: PresentReceiveMsg): Promise<Envelope<MemberCodeView>> {
    const now = this.clock.now();
    const outcome = await this.db.transaction(async (em): Promise<Envelope<MemberCodeView> | 'repeat'> => {
      const p = await this.gifts.lockPresent(em, m.crm_id, m.present_id);
      if (!p) return fail(ErrorCode.PRESENT_NOT_FOUND, `no gift with present_id ${m.present_id}`);
      if (p.received_time) {
        if (p.to_member_no !== m.member_no) return fail(ErrorCode.PRESENT_CLOSED, `gift ${m.present_id} has been accepted by another member`);
        return 'repeat'; // answered below, after this transaction has let go of the gift
      }
      if (p.go_back_time) return fail(ErrorCode.PRESENT_CLOSED, `gift ${m.present_id} was not accepted in time and went back to the giver`);
      if (p.from_member_no === m.member_no) return fail(ErrorCode.GIFT_NOT_ALLOWED, `member ${m.member_no} cannot accept their own gift`);
      if (now.getTime() > p.present_time.getTime() + this.cfg.presentTimeoutHours * HOUR_MS) {
        return fail(ErrorCode.PRESENT_CLOSED, `gift ${m.present_id} was not accepted within ${this.cfg.presentTimeoutHours} hours`);
      }
      const h = await this.codes.lockHoldingById(em, m.crm_id, p.from_holder_id);
      if (h.code_status !== CodeStatus.GIFTING) throw new Error(`gift ${m.present_id}: the giver's code is ${STATUS_WORD[h.code_status]}, not being gifted`);
      if (h.end_time && now > h.end_time) return fail(ErrorCode.CODE_NOT_USABLE, `code ${h.card_code} has expired`);
      const card = await this.codes.lockCard(em, m.crm_id, h.card_id);
      const held = (await this.codes.memberRecord(em, m.crm_id, h.card_id, m.member_no)).received_sum;
      if (card && card.get_limit > 0 && held + 1 > card.get_limit) {
        return fail(ErrorCode.GET_LIMIT_REACHED, `member ${m.member_no} may hold at most ${card.get_limit} of card ${h.card_id} and has claimed ${held}`);
      }
      await this.codes.setStatus(em, m.crm_id, h.auto_id, CodeStatus.GIVEN, now);
      const rowId = await this.gifts.insertGiftHolding(em, h, m.present_id, m.member_no, now);
      await this.codes.addToRecord(em, m.crm_id, h.card_id, m.member_no, 1, 0, now);
      await this.gifts.acceptPresent(em, m.crm_id, m.present_id, m.member_no, now);
      await this.outbox.add(em, [
        {
          crm_id: m.crm_id,
          kind: CardEventKind.GIFT_ACCEPT,
          card_id: h.card_id,
          member_no: m.member_no,
          count: 1,
          channel: null,
          occurred_at: now,
          day_of: now,
          ref: m.present_id,
          codes: [h.card_code],
          webhook: { from_member_no: p.from_member_no },
        },
      ]);
      return ok(await this.codes.codeById(em, m.crm_id, rowId, this.cfg.appTz, now), '领取成功');
    });
    if (outcome !== 'repeat') return outcome;
    // The same friend again: the friend's row as it was when accepted, whatever became of it since.
    const p = (await this.gifts.present(this.db.manager, m.crm_id, m.present_id, this.cfg.appTz))!;
    const row = (await this.codes.findCode(m.crm_id, m.member_no, p.card_id, p.card_code, m.present_id, this.cfg.appTz, now))!;
    return ok(originalGiftRow(row), '领取成功');
  }

  async list(m: PresentListMsg): Promise<Envelope<{ total: number; data: PresentView[] }>> {
    const page = await this.gifts.listPresents(m.crm_id, m.member_no, m.received, m.page_id ?? 1, m.page_size ?? 20, this.cfg.appTz);
    return ok({ total: page.total, data: page.result }, '获取用户转增记录成功');
  }

  async detail(m: PresentIdMsg): Promise<Envelope<PresentView>> {
    const p = await this.gifts.present(this.db.manager, m.crm_id, m.present_id, this.cfg.appTz);
    return p ? ok(p, '获取用户转增记录成功') : fail(ErrorCode.PRESENT_NOT_FOUND, `no gift with present_id ${m.present_id}`);
  }

  /** Sweep: gifts older than the timeout and not accepted go back to their givers (a `gift_return` event each), in batches. */
  async returnTimedOut(): Promise<number> {
    const now = this.clock.now();
    const before = new Date(now.getTime() - this.cfg.presentTimeoutHours * HOUR_MS);
    return drainInBatches(this.cfg.expiryBatchSize, (size) => this.gifts.returnDueGifts(now, before, size));
  }
}

/** A code can be gifted while it is usable and not past its end. */
function notUsable(h: { code_status: number; card_code: string; end_time: Date | null }, now: Date): Envelope<never> | null {
  if (h.code_status === CodeStatus.USABLE && h.end_time && now > h.end_time) return fail(ErrorCode.CODE_NOT_USABLE, `code ${h.card_code} has expired`);
  if (h.code_status !== CodeStatus.USABLE)
    return fail(ErrorCode.CODE_NOT_USABLE, `code ${h.card_code} is ${STATUS_WORD[h.code_status] ?? `in status ${h.code_status}`}`);
  return null;
}
