import { Inject, Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import {
  CardEventKind,
  ClaimedCodeView,
  claimRefusal,
  codeValidity,
  CodeStatus,
  Envelope,
  ErrorCode,
  fail,
  ok,
  ReceiveDetailItem,
  ReceivedIdMsg,
  ReceiveMsg,
  STATUS_WORD,
  payloadHash,
} from '@app/domain';
import { AppConfig, BatchLanes, claimBatchSize, Clock, CONFIG, idConflict } from '@app/platform';
import { ClaimCard, claimKey as key, ClaimRepository, Grant, Receipt } from './claim.repository';
import { CodeRepository } from './code.repository';
import { OutboxEvent, OutboxRepository } from '../outbox/outbox.repository';

const CLAIMED = '领券成功';

/**
 * Batches of a tenant in flight at once in this process: one holding its cards' locks,
 * and the next one getting ready behind it (begun, receipts written).
 */
const MAX_BATCHES = 2;

/** The answer to one claim, or (for a copy that must go through another batch) its promise. */
type Answer = Envelope<ClaimedCodeView[]> | Promise<Envelope<ClaimedCodeView[]>>;

/** Codes one batch hands out at most (a claim may ask for 20 cards x 100 codes): the card locks are held briefly. */
const MAX_BATCH_CODES = 2_000;

const codesAsked = (r: Receipt) => Object.values(r.card_info).reduce((a, n) => a + n, 0);

/** What one claim of a batch came to, decided in memory under the batch's locks. */
type Decision = { granted: Grant[] } | { refused: Envelope<never> };

/**
 * Claims. Concurrent claims reaching this process are answered in batches: one
 * transaction takes every claim waiting, locks the cards once, decides each claim in
 * arrival order (all or nothing per claim) and writes all the grants with a handful of
 * statements. A claim is answered only after its batch has committed.
 */
@Injectable()
export class ClaimService {
  /** One lane per tenant: no tenant's claims wait for another tenant's card locks. */
  private readonly lanes = new BatchLanes<Receipt, Envelope<ClaimedCodeView[]>>({
    name: 'claims',
    maxBatches: MAX_BATCHES,
    take: (waiting) => this.batchSize(waiting),
    run: (receipts, onLocked) => this.claimAll(receipts, onLocked),
    // A claim whose caller has given up (its deadline passed while it waited) takes nothing.
    late: () => fail(ErrorCode.SERVICE_UNAVAILABLE, 'the claim waited past its deadline; nothing was taken'),
  });

  constructor(
    private readonly db: DataSource,
    private readonly claims: ClaimRepository,
    private readonly codes: CodeRepository,
    private readonly outbox: OutboxRepository,
    private readonly clock: Clock,
    @Inject(CONFIG) private readonly cfg: AppConfig,
  ) {}

  /** `deadline`: Unix ms after which the caller no longer waits (the transport request's). */
  receive(m: ReceiveMsg, deadline?: number): Promise<Envelope<ClaimedCodeView[]>> {
    const cardInfo = Object.fromEntries(Object.entries(m.card_info).sort(([a], [b]) => (a < b ? -1 : 1)));
    const receipt: Receipt = {
      crm_id: m.crm_id,
      received_id: m.received_id,
      member_no: m.member_no,
      out_str: m.out_str,
      card_info: m.card_info,
      payload_hash: payloadHash({ op: 'receive', member_no: m.member_no, out_str: m.out_str, card_info: cardInfo }),
    };
    return this.lanes.submit(receipt.crm_id, receipt, deadline);
  }

  /** The claims waiting longest, up to CLAIM_BATCH_MAX claims and MAX_BATCH_CODES codes (at least one claim). */
  private batchSize(waiting: readonly Receipt[]): number {
    let n = 0;
    let codes = 0;
    while (n < waiting.length && n < this.cfg.claimBatchMax && (n === 0 || codes + codesAsked(waiting[n]) <= MAX_BATCH_CODES)) {
      codes += codesAsked(waiting[n]);
      n++;
    }
    return n;
  }

  /** One transaction for all these claims; answers in the same order. */
  private async claimAll(receipts: Receipt[], onLocked: () => void = () => undefined): Promise<Answer[]> {
    claimBatchSize.observe(receipts.length);
    // The same received_id twice in one batch: the first one claims, the others repeat its answer.
    const leaders = new Map<string, Receipt>();
    for (const r of receipts) if (!leaders.has(key(r.crm_id, r.received_id))) leaders.set(key(r.crm_id, r.received_id), r);
    const now = this.clock.now();
    const decided = await this.db.transaction(async (em) => {
      const owned = await this.claims.insertReceipts(em, [...leaders.values()], now);
      const mine = [...leaders.values()].filter((r) => owned.has(key(r.crm_id, r.received_id)));
      const decisions = await this.decide(em, mine, now, onLocked);
      const refused = mine.filter((r) => 'refused' in decisions.get(key(r.crm_id, r.received_id))!);
      await this.claims.deleteReceipts(em, refused);
      const issued = await this.write(em, mine, decisions, now);
      return { decisions, issued };
    });
    const answers = new Map<string, Envelope<ClaimedCodeView[]>>();
    for (const [k, r] of leaders) {
      const d = decided.decisions.get(k);
      if (!d) answers.set(k, await this.replay(r));
      else if ('refused' in d) answers.set(k, d.refused);
      else answers.set(k, ok(decided.issued.get(k) ?? [], CLAIMED));
    }
    // Other copies of an id in this batch are judged against what is stored under it, not against the first copy.
    const out: Answer[] = [];
    for (const r of receipts) {
      const k = key(r.crm_id, r.received_id);
      const leader = leaders.get(k)!;
      const d = decided.decisions.get(k);
      if (r === leader || (d && r.payload_hash === leader.payload_hash)) out.push(answers.get(k)!);
      else if (!d)
        out.push(await this.replay(r)); // the id was recorded before this batch
      else if ('refused' in d)
        out.push(this.lanes.submit(r.crm_id, r)); // nothing was recorded under the id: this copy is a claim of its own (not awaited: it needs a batch slot)
      else out.push(conflict(r.received_id));
    }
    return out;
  }

  /** Decides each claim in order against the locked cards and the members' counts. */
  private async decide(em: EntityManager, mine: Receipt[], now: Date, onLocked: () => void): Promise<Map<string, Decision>> {
    const cardKeys = new Map<string, { crm_id: string; card_id: string }>();
    for (const r of mine) for (const cardId of Object.keys(r.card_info)) cardKeys.set(key(r.crm_id, cardId), { crm_id: r.crm_id, card_id: cardId });
    const cards = cardKeys.size ? await this.claims.lockCards(em, [...cardKeys.values()]) : new Map<string, ClaimCard>();
    onLocked();
    const pairs = new Map<string, { crm_id: string; card_id: string; member_no: string }>();
    for (const r of mine) {
      for (const cardId of Object.keys(r.card_info)) {
        if ((cards.get(key(r.crm_id, cardId))?.get_limit ?? 0) > 0)
          pairs.set(key(r.crm_id, cardId, r.member_no), { crm_id: r.crm_id, card_id: cardId, member_no: r.member_no });
      }
    }
    const sums = await this.claims.receivedSums(em, [...pairs.values()]);
    const taken = new Map<string, number>(); // per card: slots handed out in this batch
    const decisions = new Map<string, Decision>();
    for (const r of mine) {
      const refusal = this.refusal(r, cards, sums, taken, now);
      if (refusal) {
        decisions.set(key(r.crm_id, r.received_id), { refused: refusal });
        continue;
      }
      const granted: Grant[] = [];
      for (const [cardId, n] of Object.entries(r.card_info)) {
        const card = cards.get(key(r.crm_id, cardId))!;
        const first = card.claim_slot + (taken.get(key(r.crm_id, cardId)) ?? 0);
        taken.set(key(r.crm_id, cardId), (taken.get(key(r.crm_id, cardId)) ?? 0) + n);
        const sumKey = key(r.crm_id, cardId, r.member_no);
        sums.set(sumKey, (sums.get(sumKey) ?? 0) + n);
        const validity = codeValidity(card, now, this.cfg.appTz);
        for (let i = 0; i < n; i++) {
          granted.push({
            crm_id: r.crm_id,
            card_id: cardId,
            slot: first + i,
            member_no: r.member_no,
            received_id: r.received_id,
            begin: validity.begin,
            end: validity.end,
            discount: card.discount,
            out_str: r.out_str,
          });
        }
      }
      decisions.set(key(r.crm_id, r.received_id), { granted });
    }
    return decisions;
  }

  /** Why this claim takes nothing (the first card that refuses, named), or null. */
  private refusal(r: Receipt, cards: Map<string, ClaimCard>, sums: Map<string, number>, taken: Map<string, number>, now: Date): Envelope<never> | null {
    for (const [cardId, n] of Object.entries(r.card_info)) {
      const card = cards.get(key(r.crm_id, cardId));
      if (!card) return fail(ErrorCode.CARD_NOT_FOUND, `card ${cardId} not found`);
      if (card.removed) return fail(ErrorCode.CARD_REMOVED, `card ${cardId} has been removed`);
      const window = claimRefusal(card, now);
      if (window)
        return fail(
          ErrorCode.NOT_CLAIMABLE,
          `card ${cardId} cannot be claimed: ${window === 'ended' ? 'its validity has ended' : 'its validity has not started'}`,
        );
      const left = card.next_slot - card.claim_slot - (taken.get(key(r.crm_id, cardId)) ?? 0);
      if (left < n) return fail(ErrorCode.OUT_OF_STOCK, `card ${cardId} is out of stock (${n} asked, ${left} left)`);
      const held = sums.get(key(r.crm_id, cardId, r.member_no)) ?? 0;
      if (card.get_limit > 0 && held + n > card.get_limit) {
        return fail(ErrorCode.GET_LIMIT_REACHED, `member ${r.member_no} may claim at most ${card.get_limit} of card ${cardId} and has claimed ${held}`);
      }
    }
    return null;
  }

  private async write(em: EntityManager, mine: Receipt[], decisions: Map<string, Decision>, now: Date): Promise<Map<string, ClaimedCodeView[]>> {
    const grants: Grant[] = [];
    for (const r of mine) {
      const d = decisions.get(key(r.crm_id, r.received_id))!;
      if ('granted' in d) grants.push(...d.granted);
    }
    const perCard = new Map<string, { crm_id: string; card_id: string; n: number }>();
    const perMember = new Map<string, { crm_id: string; card_id: string; member_no: string; n: number }>();
    for (const g of grants) {
      const c =
        perCard.get(key(g.crm_id, g.card_id)) ??
        perCard.set(key(g.crm_id, g.card_id), { crm_id: g.crm_id, card_id: g.card_id, n: 0 }).get(key(g.crm_id, g.card_id))!;
      c.n++;
      const mk = key(g.crm_id, g.card_id, g.member_no);
      const mm = perMember.get(mk) ?? perMember.set(mk, { crm_id: g.crm_id, card_id: g.card_id, member_no: g.member_no, n: 0 }).get(mk)!;
      mm.n++;
    }
    const issued = await this.claims.issue(em, grants, [...perCard.values()], [...perMember.values()], now, this.cfg.appTz);
    const byReceipt = new Map<string, ClaimedCodeView[]>();
    for (const c of issued) {
      const list = byReceipt.get(key(c.crm_id, c.received_id)) ?? byReceipt.set(key(c.crm_id, c.received_id), []).get(key(c.crm_id, c.received_id))!;
      list.push({ card_id: c.card_id, card_code: c.card_code, start_time: c.start_time, end_time: c.end_time });
    }
    return byReceipt;
  }

  /** A received_id seen before: the same payload answers the codes it gave, another one is a conflict. */
  private async replay(r: Receipt): Promise<Envelope<ClaimedCodeView[]>> {
    const hash = await this.claims.payloadHash(this.db.manager, r.crm_id, r.received_id);
    if (hash !== r.payload_hash) return conflict(r.received_id);
    return ok(await this.claims.codesOf(this.db.manager, r.crm_id, r.received_id, this.cfg.appTz), CLAIMED);
  }

  async detail(m: ReceivedIdMsg): Promise<Envelope<ReceiveDetailItem[]>> {
    const items = await this.codes.codesOfReceipt(m.crm_id, m.received_id, this.cfg.appTz, this.clock.now());
    if (!items.length && !(await this.claims.payloadHash(this.db.manager, m.crm_id, m.received_id))) {
      return fail(ErrorCode.RECEIVE_NOT_FOUND, `no claim with received_id ${m.received_id}`);
    }
    return ok(items, '获取卡券领取详情成功');
  }

  /**
   * Reverses a claim: its codes go back to their cards' pools and the member's count of
   * each card is given back. Only when none of them was redeemed, gifted or voided.
   * Writes one `claim_reverse` card event per card of the claim. Reversing again answers
   * the same and writes nothing.
   */
  async reverse(m: ReceivedIdMsg): Promise<Envelope<undefined>> {
    const now = this.clock.now();
    return this.db.transaction(async (em): Promise<Envelope<undefined>> => {
      const receipt = await this.claims.lockReceipt(em, m.crm_id, m.received_id);
      if (!receipt) return fail(ErrorCode.RECEIVE_NOT_FOUND, `no claim with received_id ${m.received_id}`);
      if (receipt.is_reversed) return ok(undefined, '冲正成功');
      const codes = await this.claims.lockReceiptCodes(em, m.crm_id, m.received_id);
      const blocked = codes.filter((c) => c.code_status !== CodeStatus.USABLE && c.code_status !== CodeStatus.EXPIRED);
      if (blocked.length) {
        const why = blocked.map((c) => `${c.card_code} (${STATUS_WORD[c.code_status] ?? `status ${c.code_status}`})`).join(', ');
        return fail(ErrorCode.REVERSE_REFUSED, `claim ${m.received_id} cannot be reversed: ${why}`);
      }
      const byCard = new Map<string, string[]>();
      for (const c of codes) byCard.set(c.card_id, [...(byCard.get(c.card_id) ?? []), c.card_code]);
      const events: OutboxEvent[] = [];
      for (const cardId of [...byCard.keys()].sort()) {
        const card = await this.codes.lockCard(em, m.crm_id, cardId);
        if (!card) throw new Error(`card ${cardId} of claim ${m.received_id} is gone`);
        const back = byCard.get(cardId)!;
        await this.claims.returnToPool(em, m.crm_id, cardId, back, card.next_slot, now);
        await this.codes.addToRecord(em, m.crm_id, cardId, receipt.member_no, -back.length, 0, now);
        // Counts against the claim: its day, channel and member.
        events.push({
          crm_id: m.crm_id,
          kind: CardEventKind.CLAIM_REVERSE,
          card_id: cardId,
          member_no: receipt.member_no,
          count: back.length,
          channel: receipt.out_str,
          occurred_at: now,
          day_of: receipt.received_time,
          ref: m.received_id,
          codes: back,
        });
      }
      await this.claims.markReversed(em, m.crm_id, m.received_id, now);
      await this.outbox.add(em, events);
      return ok(undefined, '冲正成功');
    });
  }
}

const conflict = (receivedId: string) => idConflict('received_id', receivedId);
