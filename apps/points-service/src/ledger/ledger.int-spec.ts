import {
  ConsumeDirectMsg,
  Envelope,
  MemberQueryMsg,
  PointsEventView,
  PointsSummaryView,
  ProduceDirectMsg,
  ReverseProduceMsg,
  TransferDirectMsg,
} from '@app/domain';
import { ManualClock, Middle, startMiddle } from '../../../../test/support/middle';
import { POINTS_MIGRATIONS, POINTS_SCHEMA } from '../app.module';
import { RuleRepository } from '../rules/rule.repository';
import { EarnSpendService } from './earn-spend.service';
import { EventBatchRepository } from './event-batch.repository';
import { EventBatchService } from './event-batch.service';
import { EventRecorder } from './event-recorder';
import { JournalRepository } from './journal.repository';
import { JournalService } from './journal.service';
import { LedgerRepository } from './ledger.repository';
import { ReversalRepository } from './reversal.repository';
import { ReversalService } from './reversal.service';
import { TransferRepository } from './transfer.repository';
import { TransferService } from './transfer.service';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * The ledger rules with the points use cases and their real repositories on PostgreSQL,
 * in-process, time moved by a manual clock: no point spent twice, the soonest-expiring lot
 * spent first, freezing and expiry, a reversal never taking more than its earn, transfers
 * both ways at once, idempotency by event_no. (Through the gateway: test/points-*.e2e-spec.ts.)
 */
describe('points ledger on PostgreSQL', () => {
  let mid: Middle;
  let clock: ManualClock;
  let earnSpend: EarnSpendService;
  let reversals: ReversalService;
  let transfers: TransferService;
  let journal: JournalService;
  const crm = 'mid_points';
  let n = 0;
  const id = (p: string) => `${p}-${++n}`;

  beforeAll(async () => {
    mid = await startMiddle({
      name: 'points',
      schema: POINTS_SCHEMA,
      migrations: POINTS_MIGRATIONS,
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
      ],
    });
    clock = mid.clock;
    earnSpend = mid.get(EarnSpendService);
    reversals = mid.get(ReversalService);
    transfers = mid.get(TransferService);
    journal = mid.get(JournalService);
  });
  afterAll(() => mid?.close());

  const earn = (member: string, points: number, extra: Record<string, unknown> = {}): Promise<Envelope<PointsEventView>> =>
    earnSpend.produceDirect(
      Object.assign(new ProduceDirectMsg(), { crm_id: crm, event_no: id('earn'), member_no: member, event_type: 'order', points, ...extra }),
    );
  const spend = (member: string, points: number, eventNo = id('spend')): Promise<Envelope<PointsEventView>> =>
    earnSpend.consumeDirect(Object.assign(new ConsumeDirectMsg(), { crm_id: crm, event_no: eventNo, member_no: member, points }));
  const summary = async (member: string): Promise<PointsSummaryView> => {
    const res = await journal.summary(Object.assign(new MemberQueryMsg(), { crm_id: crm, member_no: member }));
    expect(res.code).toBe(0);
    return res.data!;
  };
  const ok = async (p: Promise<Envelope<PointsEventView>>): Promise<PointsEventView> => {
    const res = await p;
    expect(res).toMatchObject({ code: 0 });
    return res.data!;
  };
  const brokenLots = async () =>
    (await mid.sql(`SELECT count(*)::int AS n FROM points.lot WHERE crm_id = $1 AND (remaining < 0 OR remaining > amount)`, [crm]))[0].n;

  it('never spends a point twice: 100 spends of 10 at once from 500, exactly 50 succeed and the rest are 40908', async () => {
    await ok(earn('rich', 500));
    const answers = await Promise.all(Array.from({ length: 100 }, () => spend('rich', 10)));
    expect(answers.filter((a) => a.code === 0)).toHaveLength(50);
    expect(answers.filter((a) => a.code === 40908)).toHaveLength(50);
    expect(await summary('rich')).toMatchObject({ total_points: 500, active_points: 0, used_points: 500 });
    expect(await brokenLots()).toBe(0);
  });

  it('spends the soonest-expiring lot first and a lot that never expires last', async () => {
    const never = await ok(earn('lots', 10));
    const late = await ok(earn('lots', 10, { expire_days: 30 }));
    const soon = await ok(earn('lots', 10, { expire_days: 3 }));
    await ok(spend('lots', 15));
    const left = await mid.sql<{ event_no: string; remaining: string }>(
      `SELECT event_no, remaining::text AS remaining FROM points.lot WHERE crm_id = $1 AND member_no = 'lots' ORDER BY lot_id`,
      [crm],
    );
    expect(left).toEqual([
      { event_no: never.event_no, remaining: '10.0000' },
      { event_no: late.event_no, remaining: '5.0000' },
      { event_no: soon.event_no, remaining: '0.0000' },
    ]);
  });

  it('keeps frozen points out of reach until freeze_hours pass, and expires them after expire_days, by the clock', async () => {
    await ok(earn('timed', 20, { freeze_hours: 2, expire_days: 1 }));
    expect(await summary('timed')).toMatchObject({ freeze_points: 20, active_points: 0 });
    expect((await spend('timed', 5)).code).toBe(40908);
    clock.advance(2 * HOUR);
    expect(await summary('timed')).toMatchObject({ freeze_points: 0, active_points: 20 });
    await ok(spend('timed', 5));
    clock.advance(2 * DAY);
    expect(await summary('timed')).toMatchObject({ total_points: 20, active_points: 0, expired_points: 15, used_points: 5 });
    expect((await spend('timed', 1)).code).toBe(40908);
  });

  it('never takes back more than the earn, however many partial reversals arrive at once', async () => {
    const earned = await ok(earn('refund', 30));
    const reverse = () =>
      reversals.reverseProduce(
        Object.assign(new ReverseProduceMsg(), {
          crm_id: crm,
          event_no: id('rev'),
          member_no: 'refund',
          origin_event_no: earned.event_no,
          reverse_points: 7,
          allow_negative: false,
        }),
      );
    const answers = await Promise.all(Array.from({ length: 10 }, reverse));
    // 30 = 4 × 7 + 2: four whole reversals of 7 fit, the rest are refused (the API takes no part-reversal beyond what is left).
    expect(answers.filter((a) => a.code === 0)).toHaveLength(4);
    expect(await summary('refund')).toMatchObject({ active_points: 2 });
    expect(await brokenLots()).toBe(0);
  });

  it('moves points both ways at once without losing or making one', async () => {
    await ok(earn('a', 100));
    await ok(earn('b', 100));
    const move = (from: string, to: string) =>
      transfers.transferDirect(Object.assign(new TransferDirectMsg(), { crm_id: crm, transfer_no: id('tr'), from_user: from, to_user: to, points: 3 }));
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? move('a', 'b') : move('b', 'a'))));
    expect(answers.every((a) => a.code === 0)).toBe(true);
    const [a, b] = [await summary('a'), await summary('b')];
    expect(a.active_points + b.active_points).toBe(200);
    expect(a.active_points).toBe(100);
    expect(await brokenLots()).toBe(0);
  });

  it('answers 20 copies of one spend alike and spends once; the event_no under another payload is 40901', async () => {
    await ok(earn('twin', 50));
    const eventNo = id('dup');
    const answers = await Promise.all(Array.from({ length: 20 }, () => spend('twin', 10, eventNo)));
    for (const a of answers) expect(a).toEqual(answers[0]);
    expect(answers[0].code).toBe(0);
    expect(await summary('twin')).toMatchObject({ active_points: 40, used_points: 10 });
    expect((await spend('twin', 11, eventNo)).code).toBe(40901);
    expect((await mid.sql(`SELECT count(*)::int AS n FROM points.event WHERE crm_id = $1 AND event_no = $2`, [crm, eventNo]))[0].n).toBe(1);
  });
});
