import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Envelope, ErrorCode, fail, ok, PointsEventView } from '@app/domain';
import { AppConfig, BatchLanes, Clock, CONFIG, idConflict, pointsBatchSize } from '@app/platform';
import { planBatch, PlannedEvent } from './batch-plan';
import { EventBatchRepository, EventNoTaken, StoredEvent } from './event-batch.repository';
import { NewEvent } from './ledger.repository';

/** An earn or a spend waiting for its batch. */
export interface BatchedEvent {
  kind: 'earn' | 'spend';
  e: NewEvent;
}

type Answer = Envelope<PointsEventView>;

/**
 * Batches of a tenant in flight at once in this process: one holding its members'
 * locks, and the next one getting ready behind it.
 */
const MAX_BATCHES = 2;

/** Runs of a batch that found an event_no taken meanwhile, at most (each run waits for the taker to commit). */
const MAX_ATTEMPTS = 3;

const MESSAGE = { earn: '积分累积成功', spend: '积分消耗成功' } as const;

const conflict = (eventNo: string) => idConflict('event_no', eventNo);

/**
 * Earns and spends (produce/direct, consume/direct, from the gateway, the transport and
 * the points inbox alike). The events waiting in this process are answered in
 * batches, one tenant per batch: one transaction locks the batch's members in key order
 * (the order every ledger transaction takes them in), reads which event_nos are
 * recorded and the spenders' lots, decides each event in arrival order in memory
 * (planBatch), and writes the journal rows, lots, allocations and counters in one
 * statement. An event is answered only after its batch has committed.
 */
@Injectable()
export class EventBatchService {
  private readonly lanes = new BatchLanes<BatchedEvent, Answer>({
    name: 'points',
    maxBatches: MAX_BATCHES,
    take: (waiting) => Math.min(waiting.length, this.cfg.pointsBatchMax),
    run: (events, onLocked) => this.apply(events, onLocked),
    late: () => fail(ErrorCode.SERVICE_UNAVAILABLE, 'the event waited past its deadline; nothing was recorded'),
  });

  constructor(
    private readonly db: DataSource,
    private readonly batches: EventBatchRepository,
    private readonly clock: Clock,
    @Inject(CONFIG) private readonly cfg: AppConfig,
  ) {}

  /** `deadline`: Unix ms after which the caller no longer waits (the transport request's). */
  submit(event: BatchedEvent, deadline?: number): Promise<Answer> {
    return this.lanes.submit(event.e.crm_id, event, deadline);
  }

  /**
   * One transaction for all these events of one tenant; answers in the same order. When an
   * event_no was recorded meanwhile for another member, the batch is rolled back and runs
   * again (it then answers that event as a repeat or a conflict).
   */
  private async apply(events: BatchedEvent[], onLocked: () => void): Promise<Array<Answer | Promise<Answer>>> {
    pointsBatchSize.observe(events.length);
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.applyOnce(events, onLocked);
      } catch (err) {
        if (!(err instanceof EventNoTaken) || attempt === MAX_ATTEMPTS) throw err;
      }
    }
  }

  private async applyOnce(events: BatchedEvent[], onLocked: () => void): Promise<Array<Answer | Promise<Answer>>> {
    const crmId = events[0].e.crm_id;
    const tz = this.cfg.appTz;
    // The same event_no twice in one batch: the first copy is decided, the others are judged against it.
    const leaders = new Map<string, BatchedEvent>();
    for (const b of events) if (!leaders.has(b.e.event_no)) leaders.set(b.e.event_no, b);
    const now = this.clock.now();
    const done = await this.db.transaction(async (em) => {
      const memberNos = [...new Set([...leaders.values()].map((b) => b.e.member_no))].sort();
      const members = await this.batches.lockMembers(em, crmId, memberNos, now);
      onLocked();
      const spenders = [...new Set([...leaders.values()].filter((b) => b.kind === 'spend').map((b) => b.e.member_no))];
      const { recorded: stored, lots } = await this.batches.read(em, crmId, tz, [...leaders.keys()], spenders, now);
      const fresh = [...leaders.values()].filter((b) => !stored.has(b.e.event_no));
      const planned: PlannedEvent[] = fresh.map(({ kind, e }) =>
        kind === 'earn'
          ? { kind, event_no: e.event_no, member_no: e.member_no, points: e.points, expire_time: e.expire_time, unfreeze_time: e.unfreeze_time }
          : { kind, event_no: e.event_no, member_no: e.member_no, points: e.points },
      );
      const plan = planBatch(planned, new Map(memberNos.map((no) => [no, { debt: members.get(no)!.debt, lots: lots.get(no) ?? [] }])), now);
      const refused = new Map<string, Answer>();
      const recorded: NewEvent[] = [];
      fresh.forEach((b, i) => {
        const o = plan.outcomes[i];
        if (o.recorded) recorded.push(b.e);
        else refused.set(b.e.event_no, fail(ErrorCode.POINTS_INSUFFICIENT, `member ${b.e.member_no} has ${o.available} spendable points, ${b.e.points} asked`));
      });
      // A member row this batch created for events it did not record leaves no trace.
      const touched = new Set(recorded.map((e) => e.member_no));
      const drop = memberNos.filter((no) => members.get(no)!.created && !touched.has(no));
      const written = recorded.length || drop.length ? await this.batches.write(em, crmId, tz, now, recorded, plan, drop) : new Map<string, PointsEventView>();
      return { stored, refused, written };
    });
    return events.map((b) =>
      this.answer(b, leaders.get(b.e.event_no)!, done.stored.get(b.e.event_no), done.refused.get(b.e.event_no), done.written.get(b.e.event_no)),
    );
  }

  private answer(
    b: BatchedEvent,
    leader: BatchedEvent,
    stored: StoredEvent | undefined,
    refused: Answer | undefined,
    written: PointsEventView | undefined,
  ): Answer | Promise<Answer> {
    const msg = MESSAGE[b.kind];
    // Recorded before this batch: the same payload answers the original event.
    if (stored) return stored.payload_hash === b.e.payload_hash ? ok(stored.view, msg) : conflict(b.e.event_no);
    if (written) return b === leader || b.e.payload_hash === leader.e.payload_hash ? ok(written, msg) : conflict(b.e.event_no);
    if (b === leader) return refused!;
    // The first copy was refused and recorded nothing: this copy is an event of its own (not awaited: it needs a batch slot).
    return this.submit(b);
  }
}
