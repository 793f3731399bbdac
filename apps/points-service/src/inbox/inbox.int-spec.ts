import { PointsEnqueueMsg, PointsEventKind } from '@app/domain';
import { ManualClock, Middle, startMiddle } from '../../../../test/support/middle';
import { POINTS_MIGRATIONS, POINTS_SCHEMA } from '../app.module';
import { EarnSpendService } from '../ledger/earn-spend.service';
import { EventBatchRepository } from '../ledger/event-batch.repository';
import { EventBatchService } from '../ledger/event-batch.service';
import { EventRecorder } from '../ledger/event-recorder';
import { JournalRepository } from '../ledger/journal.repository';
import { JournalService } from '../ledger/journal.service';
import { LedgerRepository } from '../ledger/ledger.repository';
import { ReversalRepository } from '../ledger/reversal.repository';
import { ReversalService } from '../ledger/reversal.service';
import { TransferRepository } from '../ledger/transfer.repository';
import { TransferService } from '../ledger/transfer.service';
import { RuleRepository } from '../rules/rule.repository';
import { InboxRepository } from './inbox.repository';
import { InboxRoutes } from './inbox.routes';
import { InboxService } from './inbox.service';
import { InboxSignal } from './inbox.signal';
import { InboxWorker } from './inbox.worker';

/**
 * The points inbox on PostgreSQL, in-process, with a manual clock: what `points.enqueue`
 * writes, and workers applying it (passes called directly, several at once).
 */
describe('points inbox on PostgreSQL', () => {
  let mid: Middle;
  let clock: ManualClock;
  let inbox: InboxService;
  const crm = 'mid_inbox';
  let n = 0;
  const id = (p: string) => `${p}-${++n}`;

  beforeAll(async () => {
    mid = await startMiddle({
      name: 'inbox',
      schema: POINTS_SCHEMA,
      migrations: POINTS_MIGRATIONS,
      env: { POINTS_BATCH_MAX: '40', POINTS_INBOX_KEEP_HOURS: '2' },
      providers: [
        LedgerRepository,
        JournalRepository,
        ReversalRepository,
        TransferRepository,
        EventBatchRepository,
        RuleRepository,
        EventRecorder,
        EventBatchService,
        EarnSpendService,
        ReversalService,
        TransferService,
        JournalService,
        InboxRepository,
        InboxRoutes,
        InboxService,
        InboxSignal,
      ],
    });
    clock = mid.clock;
    inbox = mid.get(InboxService);
  });
  afterAll(() => mid?.close());

  const worker = () => new InboxWorker(mid.db, mid.get(InboxRepository), mid.get(InboxRoutes), mid.get(InboxSignal), clock, mid.cfg);
  const enqueue = (kind: PointsEventKind, event: Record<string, unknown>) => inbox.enqueue(Object.assign(new PointsEnqueueMsg(), { crm_id: crm, kind, event }));
  const waiting = async () => (await mid.sql(`SELECT count(*)::int AS n FROM points.inbox WHERE crm_id = $1 AND done_at IS NULL`, [crm]))[0].n as number;

  it('writes a valid event once, refuses an invalid one and another payload under the same event_no, writing nothing', async () => {
    const no = id('e');
    const event = { event_no: no, member_no: 'm-once', event_type: 'order', points: 3 };
    expect(await enqueue(PointsEventKind.PRODUCE_DIRECT, event)).toMatchObject({ code: 0, data: { kind: 'produce_direct', event_no: no, duplicate: false } });
    expect(await enqueue(PointsEventKind.PRODUCE_DIRECT, event)).toMatchObject({ code: 0, data: { duplicate: true } });
    expect(await enqueue(PointsEventKind.PRODUCE_DIRECT, { ...event, points: 4 })).toMatchObject({ code: 40901 });
    expect(await enqueue(PointsEventKind.PRODUCE_DIRECT, { ...event, event_no: id('bad'), points: -1 })).toMatchObject({
      code: 40001,
      errors: [expect.objectContaining({ field: 'event.points' })],
    });
    const transferNo = id('t');
    expect(
      await enqueue(PointsEventKind.TRANSFER_DIRECT, { transfer_no: transferNo, from_user: 'm-once', to_user: 'm-other', points: 1, trans_type: 'x' }),
    ).toMatchObject({ code: 0, data: { event_no: transferNo } });
    expect(await mid.sql(`SELECT kind, event_no FROM points.inbox WHERE crm_id = $1 ORDER BY inbox_id`, [crm])).toEqual([
      { kind: 'produce_direct', event_no: no },
      { kind: 'transfer_direct', event_no: transferNo },
    ]);
    // Applied in arrival order: the earn, then the transfer it pays for.
    await worker().passOnce();
    expect(await waiting()).toBe(0);
    expect(await mid.sql(`SELECT kind, outcome_code FROM points.inbox WHERE crm_id = $1 ORDER BY inbox_id`, [crm])).toEqual([
      { kind: 'produce_direct', outcome_code: 0 },
      { kind: 'transfer_direct', outcome_code: 0 },
    ]);
  });

  it('three workers at once apply each of 300 events exactly once, a refused spend is done with its answer', async () => {
    const members = Array.from({ length: 10 }, (_, i) => `m-many-${i}`);
    const earns = Array.from({ length: 300 }, (_, i) => ({ event_no: id('many'), member_no: members[i % 10], event_type: 'order', points: 0.5 }));
    for (const e of earns) expect(await enqueue(PointsEventKind.PRODUCE_DIRECT, e)).toMatchObject({ code: 0 });
    const tooMuch = id('spend');
    await enqueue(PointsEventKind.CONSUME_DIRECT, { event_no: tooMuch, member_no: members[0], points: 1_000 });
    const workers = [worker(), worker(), worker()];
    while ((await waiting()) > 0) await Promise.all(workers.map((w) => w.passOnce()));
    const rows = await mid.sql(`SELECT event_no, count(*)::int AS n FROM points.event WHERE crm_id = $1 AND event_no = ANY($2) GROUP BY event_no`, [
      crm,
      earns.map((e) => e.event_no),
    ]);
    expect(rows).toHaveLength(300);
    expect(rows.every((r) => r.n === 1)).toBe(true);
    const [refused] = await mid.sql(`SELECT outcome_code, done_at FROM points.inbox WHERE crm_id = $1 AND event_no = $2`, [crm, tooMuch]);
    expect(refused.outcome_code).toBe(40908);
    expect(refused.done_at).not.toBeNull();
  });

  it('deletes done rows after POINTS_INBOX_KEEP_HOURS, never waiting ones', async () => {
    const late = id('late');
    await enqueue(PointsEventKind.PRODUCE_DIRECT, { event_no: late, member_no: 'm-late', event_type: 'order', points: 1 });
    const w = worker();
    expect(await w.purgeDone()).toBe(0);
    clock.advance(2 * 3_600_000 + 1_000);
    const done = (await mid.sql(`SELECT count(*)::int AS n FROM points.inbox WHERE crm_id = $1 AND done_at IS NOT NULL`, [crm]))[0].n as number;
    expect(done).toBeGreaterThan(300);
    expect(await w.purgeDone()).toBe(done);
    expect(await mid.sql(`SELECT event_no FROM points.inbox WHERE crm_id = $1`, [crm])).toEqual([{ event_no: late }]);
  });
});
