import { Inject, Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { DateTime } from 'luxon';
import { Envelope, ok, PointsEventView } from '@app/domain';
import { AppConfig, CONFIG, settleWrite, WriteOutcome } from '@app/platform';
import { LedgerRepository, NewEvent } from './ledger.repository';

/**
 * An event that records nothing (refused, or its event_no is taken): thrown inside the
 * transaction so that even the member row it may have created is rolled back.
 */
export class Unrecorded extends Error {
  constructor(readonly outcome: Envelope<never> | 'taken') {
    super('unrecorded');
  }
}

/**
 * One points event in one transaction (by_rule, reversals, held transfers): the member's
 * lock, then the event_no (a repeat answers the original event, another payload under it
 * is 40901), then `check`, the journal row, and `apply`. A refusal or a taken event_no
 * rolls everything back. Earns and spends go through EventBatchService instead.
 */
@Injectable()
export class EventRecorder {
  constructor(
    private readonly db: DataSource,
    private readonly ledger: LedgerRepository,
    @Inject(CONFIG) private readonly cfg: AppConfig,
  ) {}

  /** The event time given (tenant zone), else now. */
  eventAt(text: string | undefined, now: Date): DateTime {
    return text ? DateTime.fromFormat(text, 'yyyy-MM-dd HH:mm:ss', { zone: this.cfg.appTz }) : DateTime.fromJSDate(now, { zone: this.cfg.appTz });
  }

  async record(
    e: NewEvent,
    now: Date,
    msg: string,
    check: (em: EntityManager) => Promise<Envelope<never> | null>,
    apply: (em: EntityManager, eventId: number) => Promise<void>,
    fromTransferNo: string | null = null,
  ): Promise<Envelope<PointsEventView>> {
    const outcome = await this.transaction(async (em) => {
      await this.ledger.lockMember(em, e.crm_id, e.member_no, now);
      if (await this.ledger.payloadHash(e.crm_id, e.event_no, em)) throw new Unrecorded('taken');
      const refused = await check(em);
      if (refused) throw new Unrecorded(refused);
      const eventId = await this.ledger.insertEvent(em, e, now, fromTransferNo);
      if (eventId === null) throw new Unrecorded('taken'); // recorded meanwhile for another member
      await apply(em, eventId);
    });
    return this.answer(outcome, { name: 'event_no', value: e.event_no }, e.payload_hash, e.crm_id, msg);
  }

  /** Runs `work` in a transaction: 'done', or what an Unrecorded thrown inside it carried (rolled back). */
  async transaction(work: (em: EntityManager) => Promise<void>): Promise<WriteOutcome> {
    try {
      await this.db.transaction(work);
      return 'done';
    } catch (err) {
      if (!(err instanceof Unrecorded)) throw err;
      return err.outcome;
    }
  }

  /** The answer to an event written under `id` (event_no, transfer_no): the journal row of that id, a refusal or a conflict. */
  answer(outcome: WriteOutcome, id: { name: string; value: string }, hash: string, crmId: string, msg: string): Promise<Envelope<PointsEventView>> {
    return settleWrite(
      outcome,
      id,
      hash,
      () => this.ledger.payloadHash(crmId, id.value),
      async () => ok((await this.ledger.event(crmId, id.value, this.cfg.appTz))!, msg),
    );
  }
}
