import { Inject, Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { CardEvent, dayTransition, MemberKind, memberSpanDeltas, RollupDeltas, rollupDeltas } from '@app/domain';
import { AppConfig, BatchLanes, CONFIG } from '@app/platform';
import { RollupRepository } from './rollup.repository';

/** Whether an event changed the rollups now (false: it had been applied before). */
export type Applied = boolean;

/** Batches of a tenant in flight at once in this process: one writing, the next gathering behind it. */
const MAX_BATCHES = 2;

/**
 * Applies card events to the rollups, each once. The events waiting in this process are
 * applied together, per tenant, in one transaction that also marks them applied (at most
 * DASHBOARD_BATCH_MAX per batch), so a batch counts wholly or not at all: a worker killed
 * mid-batch leaves its jobs to be delivered again, and their marks (or their absence)
 * decide. A batch that fails as a whole runs again event by event (BatchLanes).
 *
 * Locks, always in this order, so concurrent batches (also of other workers) never
 * deadlock: the tenant's rollup lock shared (a rebuild's replace takes it exclusive), the
 * applied_event marks in id order, an advisory lock per (kind, member) the batch moves in
 * lock-key order, then the rollup rows table by table, each in key order.
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
    return this.lanes.submit(event.crm_id, event);
  }

  /** One transaction: the marks first (they decide which events are new), then one upsert per rollup table, then the member chains. */
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
      const days = await this.rollups.daysOf(em, applied.map((e) => e.day_of), this.cfg.appTz);
      const deltas = rollupDeltas(applied, (instant) => days.get(instant)!);
      await this.rollups.lockMembers(em, crmId, deltas.memberAllDays);
      await this.rollups.addDeltas(em, crmId, deltas);
      await this.addMemberChains(em, crmId, deltas);
      return answers;
    });
  }

  /**
   * member_all_day and member_span (distinct members across cards): adds the batch's
   * per-member deltas, finds the days that became active (up) or stopped (down), reads
   * those members' active days back and adds what their chains of active days changed.
   * The members are locked (lockMembers), so the days read are theirs alone.
   */
  private async addMemberChains(em: EntityManager, crmId: string, deltas: RollupDeltas): Promise<void> {
    const after = await this.rollups.addMemberAllDays(em, crmId, deltas.memberAllDays);
    const moved = new Map<string, { kind: MemberKind; member_no: string; ups: string[]; downs: string[] }>();
    for (const r of after) {
      const t = dayTransition(r.num, r.delta);
      if (!t) continue;
      const key = `${r.kind}|${r.member_no}`;
      const m = moved.get(key) ?? { kind: r.kind, member_no: r.member_no, ups: [], downs: [] };
      moved.set(key, m);
      (t === 'up' ? m.ups : m.downs).push(r.day);
    }
    if (!moved.size) return;
    const members = [...moved.values()];
    const active = await this.rollups.activeDays(em, crmId, members);
    const spans = memberSpanDeltas(members.map((m) => ({ kind: m.kind, after: active.get(`${m.kind}|${m.member_no}`) ?? [], ups: m.ups, downs: m.downs })));
    await this.rollups.addMemberSpans(em, crmId, spans);
  }
}
