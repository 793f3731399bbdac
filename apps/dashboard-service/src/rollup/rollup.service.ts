import { Inject, Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { CardEvent, chainKey, chainMoves, memberLane, MemberSpanDelta, memberSpanDeltas, RollupDeltas, rollupDeltas } from '@app/domain';
import { AppConfig, BatchLanes, CONFIG } from '@app/platform';
import { RollupRepository } from './rollup.repository';

/** Whether an event changed the rollups now (false: it had been applied before). */
export type Applied = boolean;

/** Batches of a lane in flight at once in this process: one writing, the next gathering behind it. */
const MAX_BATCHES = 2;

/**
 * Applies card events to the rollups, each once. The events waiting in this process are
 * applied together in one transaction that also marks them applied (at most
 * DASHBOARD_BATCH_MAX per batch), so a batch counts wholly or not at all: a worker killed
 * mid-batch leaves its jobs to be delivered again, and their marks (or their absence)
 * decide. A batch that fails as a whole runs again event by event (BatchLanes).
 *
 * Lanes: a tenant's events are split by member into DASHBOARD_LANES lanes (memberLane),
 * each with its own batches, so two batches of one worker never share a member. Their
 * member work (member_day, member_all_day, reading the chains back) runs side by side,
 * and so do their spans: member_span and member_day_count rows carry the lane, each lane
 * adds to its own. They meet only in the per-card and tenant-wide counters, which come
 * last, so those row locks are held only for the short tail before the commit.
 *
 * Locks, always in this order, so concurrent batches (also of other workers) never
 * deadlock: the tenant's rollup lock shared (a rebuild's replace takes it exclusive), the
 * applied_event marks in id order, an advisory lock per (kind, member) the batch moves in
 * lock-key order (it covers the member's chains of every card too), then the rollup rows
 * statement by statement, each in key order: member_day, member_all_day, the lane's
 * member_span and member_day_count rows, card (titles that changed only), card_day,
 * card_week, channel_day, channel_day_all, tenant_day.
 */
@Injectable()
export class RollupService {
  private readonly lanes = new BatchLanes<CardEvent, Applied>({
    name: 'card-events',
    maxBatches: MAX_BATCHES,
    take: (waiting) => Math.min(waiting.length, this.cfg.dashboardBatchMax),
    run: (events, onLocked) => this.applyBatch(events, onLocked),
    late: () => false,
  });

  constructor(
    private readonly db: DataSource,
    private readonly rollups: RollupRepository,
    @Inject(CONFIG) private readonly cfg: AppConfig,
  ) {}

  /** Resolves once the event is committed (applied now, or found applied before). */
  apply(event: CardEvent): Promise<Applied> {
    return this.lanes.submit(`${event.crm_id}|${memberLane(event.member_no, this.cfg.dashboardLanes)}`, event);
  }

  /** One transaction: the marks first (they decide which events are new), then the member rows and chains, then the rows shared with other batches. */
  private async applyBatch(events: CardEvent[], onLocked: () => void): Promise<Applied[]> {
    const crmId = events[0].crm_id;
    const ids = [...new Set(events.map((e) => e.event_id))].sort();
    return this.db.transaction(async (em) => {
      await this.rollups.lockTenant(em, crmId, 'shared');
      const fresh = await this.rollups.markApplied(em, crmId, ids);
      onLocked();
      // The first of several copies in one batch is the one applied.
      const taken = new Set<string>();
      const answers = events.map((e) => {
        if (!fresh.has(e.event_id) || taken.has(e.event_id)) return false;
        taken.add(e.event_id);
        return true;
      });
      const applied = events.filter((_e, i) => answers[i]);
      if (!applied.length) return answers;
      const days = await this.rollups.daysOf(
        em,
        applied.map((e) => e.day_of),
        this.cfg.appTz,
      );
      const deltas = rollupDeltas(applied, (instant) => days.get(instant)!);
      // From memberDays, not memberAllDays: a member whose sum over cards is 0 still moves its chains per card.
      await this.rollups.lockMembers(em, crmId, deltas.memberDays);
      // Every event of a batch is of one lane (apply() routes by member): the spans go to that lane's rows.
      await this.rollups.addMemberSpans(em, crmId, memberLane(applied[0].member_no, this.cfg.dashboardLanes), await this.memberChains(em, crmId, deltas));
      await this.rollups.addDeltas(em, crmId, deltas);
      await this.rollups.addTenantDeltas(em, crmId, deltas);
      return answers;
    });
  }

  /**
   * member_day and member_all_day, and what they change in member_span (distinct members
   * per card and across cards): adds the batch's per-member deltas, finds per chain
   * (kind, card or ALL_CARDS, member) the days that became active (up) or stopped (down),
   * reads those chains' active days back (one statement) and answers the span deltas. The
   * members are locked (lockMembers), so the days read are theirs alone.
   */
  private async memberChains(em: EntityManager, crmId: string, deltas: RollupDeltas): Promise<MemberSpanDelta[]> {
    const moves = chainMoves(await this.rollups.addMemberDays(em, crmId, deltas));
    if (!moves.length) return [];
    const active = await this.rollups.activeDays(em, crmId, moves);
    return memberSpanDeltas(moves.map((m) => ({ ...m, after: active.get(chainKey(m)) ?? [] })));
  }

  /**
   * The events of a card-events job (one tenant): each into its tenant's batches as
   * apply() does; resolves once every one is committed, answering each event's Applied in
   * the same order. If any fails, rejects with the first failure, after all settled.
   */
  async applyMany(events: CardEvent[]): Promise<Applied[]> {
    const settled = await Promise.allSettled(events.map((e) => this.apply(e)));
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return settled.map((r) => (r as PromiseFulfilledResult<Applied>).value);
  }
}
