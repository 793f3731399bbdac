import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Decimal } from 'decimal.js';
import { AcceptMsg, Envelope, ErrorCode, fail, ok, payloadHash, PointsEventView, TransferDirectMsg, TransferMsg } from '@app/domain';
import { AppConfig, Clock, CONFIG, drainInBatches } from '@app/platform';
import { EventRecorder, Unrecorded } from './event-recorder';
import { decimal, newEvent } from './journal-event';
import { LedgerRepository } from './ledger.repository';
import { TransferRepository, TransferRow } from './transfer.repository';

const HOUR_MS = 3_600_000;

/** The spec's accept also names the transfer's own fields: the first one given that is not the transfer's, described, or null. */
function transferDiffers(t: TransferRow, m: AcceptMsg): string | null {
  if (m.from_user !== undefined && m.from_user !== t.from_user) return `from_user ${t.from_user}, not ${m.from_user}`;
  if (m.points !== undefined && !new Decimal(decimal(m.points)).equals(t.points)) return `points ${new Decimal(t.points).toString()}, not ${m.points}`;
  if (m.trans_type !== undefined && m.trans_type !== t.trans_type) return `trans_type ${t.trans_type ?? '(none)'}, not ${m.trans_type}`;
  return null;
}

/**
 * Points moved between members, idempotent by transfer_no: at once (transfer/direct), or
 * held from the sender until the receiver accepts (transfer, accept) and given back when
 * not accepted within TRANSFER_TIMEOUT_HOURS (the sweep). The receiver's lots keep the
 * expiry of the lots the points came from. Journal: `transfer_out` under transfer_no,
 * `transfer_in` under `in#<transfer_no>`, `transfer_back` under `back#<transfer_no>`.
 */
@Injectable()
export class TransferService {
  constructor(
    private readonly db: DataSource,
    private readonly ledger: LedgerRepository,
    private readonly transfers: TransferRepository,
    private readonly recorder: EventRecorder,
    private readonly clock: Clock,
    @Inject(CONFIG) private readonly cfg: AppConfig,
  ) {}

  /** Moves spendable points at once, soonest expiry first; not enough: 40908, nothing changed. */
  async transferDirect(m: TransferDirectMsg): Promise<Envelope<PointsEventView>> {
    const now = this.clock.now();
    const points = decimal(m.points);
    const hash = payloadHash({ op: 'transfer', from_user: m.from_user, to_user: m.to_user, points, trans_type: m.trans_type ?? null });
    const base = { crm_id: m.crm_id, points, event_at: now, payload_hash: hash, trans_type: m.trans_type ?? null };
    const out = newEvent({ ...base, event_no: m.transfer_no, member_no: m.from_user, event_type: 'transfer_out' });
    const into = newEvent({ ...base, event_no: `in#${m.transfer_no}`, member_no: m.to_user, event_type: 'transfer_in' });
    const outcome = await this.recorder.transaction(async (em) => {
      // Both members, in a fixed order: transfers both ways at once cannot deadlock.
      for (const member of [m.from_user, m.to_user].sort()) await this.ledger.lockMember(em, m.crm_id, member, now);
      if (await this.ledger.payloadHash(m.crm_id, m.transfer_no, em)) throw new Unrecorded('taken');
      const { available, enough } = await this.ledger.spendable(em, m.crm_id, m.from_user, now, points);
      if (!enough) throw new Unrecorded(fail(ErrorCode.POINTS_INSUFFICIENT, `member ${m.from_user} has ${available} spendable points, ${points} asked`));
      const outId = await this.ledger.insertEvent(em, out, now, m.transfer_no);
      if (outId === null) throw new Unrecorded('taken');
      if ((await this.ledger.insertEvent(em, into, now, m.transfer_no)) === null) throw new Error(`journal row ${into.event_no} exists already`);
      const pieces = await this.ledger.takeFifo(em, m.crm_id, m.from_user, outId, points, now, true);
      await this.ledger.addUsed(em, m.crm_id, m.from_user, points, now);
      await this.transfers.receiveLots(em, m.crm_id, m.to_user, into.event_no, pieces, points, now);
    });
    return this.recorder.answer(outcome, { name: 'transfer_no', value: m.transfer_no }, hash, m.crm_id, '转赠成功');
  }

  /** Holds the points from the sender at once (taken from spendable lots, counted as used) until the receiver accepts. */
  async transfer(m: TransferMsg): Promise<Envelope<PointsEventView>> {
    const now = this.clock.now();
    const points = decimal(m.points);
    const hash = payloadHash({ op: 'transfer_pending', from_user: m.from_user, to_user: m.to_user, points, trans_type: m.trans_type ?? null });
    const out = newEvent({
      crm_id: m.crm_id,
      event_no: m.transfer_no,
      member_no: m.from_user,
      event_type: 'transfer_out',
      points,
      event_at: now,
      payload_hash: hash,
      trans_type: m.trans_type ?? null,
    });
    return this.recorder.record(
      out,
      now,
      '转赠成功',
      async (em) => {
        const { available, enough } = await this.ledger.spendable(em, m.crm_id, m.from_user, now, points);
        return enough ? null : fail(ErrorCode.POINTS_INSUFFICIENT, `member ${m.from_user} has ${available} spendable points, ${points} asked`);
      },
      async (em, outId) => {
        await this.ledger.takeFifo(em, m.crm_id, m.from_user, outId, points, now, true);
        await this.ledger.addUsed(em, m.crm_id, m.from_user, points, now);
        await this.transfers.insertTransfer(
          em,
          m.crm_id,
          { transfer_no: m.transfer_no, from_user: m.from_user, to_user: m.to_user, points, out_event_id: outId },
          now,
        );
      },
      m.transfer_no,
    );
  }

  /** The receiver takes a held transfer: lots keeping the expiry of the lots the points came from. Accepting again answers the same. */
  async accept(m: AcceptMsg): Promise<Envelope<PointsEventView>> {
    const now = this.clock.now();
    const t = await this.transfers.findTransfer(m.crm_id, m.transfer_no);
    if (!t || t.to_user !== m.member_no) return fail(ErrorCode.TRANSFER_NOT_FOUND, `no transfer ${m.transfer_no} to member ${m.member_no}`);
    const differs = transferDiffers(t, m);
    if (differs) return fail(ErrorCode.IDEMPOTENCY_CONFLICT, `transfer ${m.transfer_no} was made with ${differs}`);
    const inEventNo = `in#${m.transfer_no}`;
    const outcome = await this.db.transaction(async (em): Promise<Envelope<never> | 'done'> => {
      for (const member of [t.from_user, t.to_user].sort()) await this.ledger.lockMember(em, m.crm_id, member, now);
      const locked = (await this.transfers.findTransfer(m.crm_id, m.transfer_no, em, true))!;
      if (locked.status === 'accepted') return 'done';
      if (locked.status === 'returned')
        return fail(ErrorCode.TRANSFER_CLOSED, `transfer ${m.transfer_no} was not accepted in time and went back to ${t.from_user}`);
      if (now.getTime() > locked.create_time.getTime() + this.cfg.transferTimeoutHours * HOUR_MS) {
        return fail(ErrorCode.TRANSFER_CLOSED, `transfer ${m.transfer_no} was not accepted within ${this.cfg.transferTimeoutHours} hours`);
      }
      const into = newEvent({
        crm_id: m.crm_id,
        event_no: inEventNo,
        member_no: t.to_user,
        event_type: 'transfer_in',
        points: t.points,
        event_at: now,
        trans_type: t.trans_type,
      });
      await this.ledger.insertEvent(em, into, now, m.transfer_no);
      const pieces = await this.transfers.heldPieces(em, m.crm_id, t.out_event_id);
      await this.transfers.receiveLots(em, m.crm_id, t.to_user, inEventNo, pieces, t.points, now);
      await this.transfers.closeTransfer(em, m.crm_id, m.transfer_no, 'accepted', now);
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
      const due = await this.transfers.dueTransfers(before, size);
      for (const d of due) if (await this.returnTransfer(d.crm_id, d.transfer_no, now, before)) returned++;
      return due.length;
    });
    return returned;
  }

  private async returnTransfer(crmId: string, transferNo: string, now: Date, before: Date): Promise<boolean> {
    const t = await this.transfers.findTransfer(crmId, transferNo);
    if (!t) return false;
    return this.db.transaction(async (em) => {
      for (const member of [t.from_user, t.to_user].sort()) await this.ledger.lockMember(em, crmId, member, now);
      const locked = (await this.transfers.findTransfer(crmId, transferNo, em, true))!;
      // Accepted or returned meanwhile (by the receiver, or another worker): nothing to do.
      if (locked.status !== 'pending' || locked.create_time >= before) return false;
      await this.ledger.returnAllocations(em, crmId, t.out_event_id, t.points);
      await this.ledger.addUsed(em, crmId, t.from_user, `-${t.points}`, now);
      const back = newEvent({
        crm_id: crmId,
        event_no: `back#${transferNo}`,
        member_no: t.from_user,
        event_type: 'transfer_back',
        points: t.points,
        event_at: now,
        trans_type: t.trans_type,
      });
      await this.ledger.insertEvent(em, back, now, transferNo);
      await this.transfers.closeTransfer(em, crmId, transferNo, 'returned', now);
      return true;
    });
  }
}
