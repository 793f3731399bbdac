import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import {
  CardDetailMsg,
  CardEventKind,
  CardListMsg,
  CodeStatus,
  Envelope,
  ErrorCode,
  fail,
  MemberCodeView,
  ObsoleteMsg,
  ok,
  Page,
  STATUS_WORD,
} from '@app/domain';
import { AppConfig, Clock, CONFIG, drainInBatches } from '@app/platform';
import { CodeRepository } from './code.repository';
import { OutboxRepository } from '../outbox/outbox.repository';

/** A member's codes: listing, detail, voiding, and the expiry sweep. */
@Injectable()
export class CodeService {
  constructor(
    private readonly db: DataSource,
    private readonly codes: CodeRepository,
    private readonly outbox: OutboxRepository,
    private readonly clock: Clock,
    @Inject(CONFIG) private readonly cfg: AppConfig,
  ) {}

  async list(m: CardListMsg): Promise<Envelope<Page<MemberCodeView>>> {
    const page = await this.codes.listCodes(m.crm_id, m.member_no, m.code_status, m.page_id ?? 1, m.page_size ?? 20, this.cfg.appTz, this.clock.now());
    return ok(page, '获取用户卡券列表成功');
  }

  async detail(m: CardDetailMsg): Promise<Envelope<MemberCodeView>> {
    const code = await this.codes.findCode(m.crm_id, m.member_no, m.card_id, m.card_code, m.received_id, this.cfg.appTz, this.clock.now());
    return code ? ok(code, '获取卡券详情成功') : fail(ErrorCode.CODE_NOT_FOUND, `member ${m.member_no} has no code ${m.card_code} of card ${m.card_id}`);
  }

  /** Voids a member's usable (or expired) code, recording who did it, with a `void` card event. Voiding a void code again answers the same and writes nothing. */
  async obsolete(m: ObsoleteMsg): Promise<Envelope<MemberCodeView>> {
    const now = this.clock.now();
    return this.db.transaction(async (em): Promise<Envelope<MemberCodeView>> => {
      const h = await this.codes.lockHolding(em, m.crm_id, m.member_no, m.card_id, m.card_code);
      if (!h) return fail(ErrorCode.CODE_NOT_FOUND, `member ${m.member_no} holds no code ${m.card_code} of card ${m.card_id}`);
      if (h.code_status !== CodeStatus.VOID) {
        if (h.code_status !== CodeStatus.USABLE && h.code_status !== CodeStatus.EXPIRED) {
          return fail(ErrorCode.CODE_NOT_USABLE, `code ${m.card_code} is ${STATUS_WORD[h.code_status]} and cannot be voided`);
        }
        await this.codes.setStatus(em, m.crm_id, h.auto_id, CodeStatus.VOID, now, { obsoleted_time: now });
        await this.codes.recordObsoleted(em, h, m.operator, now);
        // The obsolete call carries no id of its own (operator is a name): no ref.
        await this.outbox.add(em, [
          {
            crm_id: m.crm_id,
            kind: CardEventKind.VOID,
            card_id: h.card_id,
            member_no: h.member_no,
            count: 1,
            channel: null,
            occurred_at: now,
            day_of: now,
            ref: null,
            codes: [h.card_code],
            webhook: { operator: m.operator },
          },
        ]);
      }
      return ok(await this.codes.codeById(em, m.crm_id, h.auto_id, this.cfg.appTz, now), '作废成功');
    });
  }

  /** Sweep: usable codes past their end become expired (status 4), in batches, each with its t_member_card_expired row; `expire` card events per (member, card) of a batch. */
  async expireDue(): Promise<number> {
    const now = this.clock.now();
    return drainInBatches(this.cfg.expiryBatchSize, (size) => this.codes.expireDue(now, size));
  }
}
