import {
  AcceptMsg,
  ConsumeDirectMsg,
  Envelope,
  PointsEventView,
  ProduceDirectMsg,
  ReverseConsumeMsg,
  ReverseProduceMsg,
  TransferDirectMsg,
  TransferMsg,
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

interface HookRow {
  id: string;
  crm_id: string;
  type: string;
  member_no: string | null;
  occurred_at: Date;
  data: Record<string, any>;
}

const HOUR = 3_600_000;

/**
 * points.webhook_outbox with the points use cases on PostgreSQL, in-process: every journal
 * row (earn, spend, reversal, expiry, each row of a transfer) writes exactly one webhook
 * event with its data in the statement that writes it; a batch of earns and spends writes
 * its events in its one statement; nothing is written for what is refused or rolled back.
 */
describe('points webhook outbox on PostgreSQL', () => {
  let mid: Middle;
  let clock: ManualClock;
  let earnSpend: EarnSpendService;
  const crm = 'mid_points_hooks';
  let last = '0';
  let n = 0;
  const id = (p: string) => `${p}-${++n}`;

  beforeAll(async () => {
    mid = await startMiddle({
      name: 'points_hooks',
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
  });
  afterAll(() => mid?.close());

  async function written(): Promise<HookRow[]> {
    const rows = await mid.sql<HookRow>(
      `SELECT id::text, crm_id, type, member_no, occurred_at, data FROM points.webhook_outbox WHERE id > $1 ORDER BY webhook_outbox.id`,
      [last],
    );
    if (rows.length) last = rows[rows.length - 1].id;
    return rows;
  }
  const ok = async (p: Promise<Envelope<PointsEventView>>): Promise<PointsEventView> => {
    const res = await p;
    expect(res).toMatchObject({ code: 0 });
    return res.data!;
  };
  const iso = () => clock.now().toISOString();
  /** The data every points event has, with these fields set. */
  const data = (over: Record<string, unknown>) => ({
    action_scene: null,
    store_code: null,
    origin_event_no: null,
    transfer_no: null,
    trans_type: null,
    event_at: iso(),
    ...over,
  });
  const earn = (member: string, points: number, eventNo = id('earn'), extra: Record<string, unknown> = {}) =>
    earnSpend.produceDirect(
      Object.assign(new ProduceDirectMsg(), { crm_id: crm, event_no: eventNo, member_no: member, event_type: 'order', points, store_code: 's1', ...extra }),
    );
  const spend = (member: string, points: number, eventNo = id('spend')) =>
    earnSpend.consumeDirect(Object.assign(new ConsumeDirectMsg(), { crm_id: crm, event_no: eventNo, member_no: member, points }));

  it('earned, spent and both reversals: one event each, points as decimal text with 4 places', async () => {
    await written();
    const e1 = id('earn');
    await ok(earn('ann', 12.5, e1));
    let [row, ...more] = await written();
    expect(more).toEqual([]);
    expect(row).toMatchObject({ crm_id: crm, type: 'points.earned', member_no: 'ann' });
    expect(row.occurred_at.toISOString()).toBe(iso());
    expect(row.data).toEqual(data({ member_no: 'ann', event_no: e1, event_type: 'produce', points: '12.5000', action_scene: 'order', store_code: 's1' }));

    const s1 = id('spend');
    await ok(spend('ann', 0.25, s1));
    [row, ...more] = await written();
    expect(more).toEqual([]);
    expect(row).toMatchObject({ type: 'points.spent', member_no: 'ann' });
    expect(row.data).toEqual(data({ member_no: 'ann', event_no: s1, event_type: 'consume', points: '0.2500' }));

    const r1 = id('rev');
    await ok(
      mid
        .get(ReversalService)
        .reverseConsume(Object.assign(new ReverseConsumeMsg(), { crm_id: crm, event_no: r1, member_no: 'ann', origin_event_no: s1, reverse_points: 0.25 })),
    );
    [row, ...more] = await written();
    expect(more).toEqual([]);
    expect(row).toMatchObject({ type: 'points.reversed', member_no: 'ann' });
    expect(row.data).toEqual(data({ member_no: 'ann', event_no: r1, event_type: 'reverse_consume', points: '0.2500', origin_event_no: s1 }));

    const r2 = id('rev');
    await ok(
      mid.get(ReversalService).reverseProduce(
        Object.assign(new ReverseProduceMsg(), {
          crm_id: crm,
          event_no: r2,
          member_no: 'ann',
          origin_event_no: e1,
          reverse_points: 2,
          allow_negative: false,
        }),
      ),
    );
    [row, ...more] = await written();
    expect(more).toEqual([]);
    expect(row).toMatchObject({ type: 'points.reversed', member_no: 'ann' });
    expect(row.data).toEqual(data({ member_no: 'ann', event_no: r2, event_type: 'reverse_produce', points: '2.0000', origin_event_no: e1 }));
  });

  it('transfers: a direct one is sent and accepted at once; a held one is sent, then accepted or returned', async () => {
    await ok(earn('tom', 100));
    await written();
    const transfers = mid.get(TransferService);
    const t1 = id('tr');
    await ok(transfers.transferDirect(Object.assign(new TransferDirectMsg(), { crm_id: crm, transfer_no: t1, from_user: 'tom', to_user: 'tia', points: 3 })));
    const direct = await written();
    expect(direct.map((r) => [r.type, r.member_no])).toEqual([
      ['points.transfer_sent', 'tom'],
      ['points.transfer_accepted', 'tia'],
    ]);
    expect(direct[0].data).toEqual(data({ member_no: 'tom', event_no: t1, event_type: 'transfer_out', points: '3.0000', transfer_no: t1 }));
    expect(direct[1].data).toEqual(data({ member_no: 'tia', event_no: `in#${t1}`, event_type: 'transfer_in', points: '3.0000', transfer_no: t1 }));

    const t2 = id('tr');
    await ok(
      transfers.transfer(Object.assign(new TransferMsg(), { crm_id: crm, transfer_no: t2, from_user: 'tom', to_user: 'tia', points: 4, trans_type: 'gift' })),
    );
    let [row, ...more] = await written();
    expect(more).toEqual([]);
    expect(row).toMatchObject({ type: 'points.transfer_sent', member_no: 'tom' });
    expect(row.data).toEqual(data({ member_no: 'tom', event_no: t2, event_type: 'transfer_out', points: '4.0000', transfer_no: t2, trans_type: 'gift' }));
    clock.advance(HOUR);
    await ok(transfers.accept(Object.assign(new AcceptMsg(), { crm_id: crm, transfer_no: t2, member_no: 'tia' })));
    [row, ...more] = await written();
    expect(more).toEqual([]);
    expect(row).toMatchObject({ type: 'points.transfer_accepted', member_no: 'tia' });
    expect(row.occurred_at.toISOString()).toBe(iso());
    expect(row.data).toEqual(
      data({ member_no: 'tia', event_no: `in#${t2}`, event_type: 'transfer_in', points: '4.0000', transfer_no: t2, trans_type: 'gift' }),
    );

    const t3 = id('tr');
    await ok(transfers.transfer(Object.assign(new TransferMsg(), { crm_id: crm, transfer_no: t3, from_user: 'tom', to_user: 'tia', points: 5 })));
    await written();
    clock.advance((mid.cfg.transferTimeoutHours + 1) * HOUR);
    expect(await transfers.returnTimedOutTransfers()).toBe(1);
    [row, ...more] = await written();
    expect(more).toEqual([]);
    expect(row).toMatchObject({ type: 'points.transfer_returned', member_no: 'tom' });
    expect(row.data).toEqual(data({ member_no: 'tom', event_no: `back#${t3}`, event_type: 'transfer_back', points: '5.0000', transfer_no: t3 }));
  });

  it('expired: one event per lot the sweep expires, at the lot expiry', async () => {
    const e1 = id('earn');
    await ok(earn('eve', 7.1234, e1, { expire_days: 1 }));
    const lotExpiry = new Date(clock.now().getTime() + 24 * HOUR).toISOString();
    await written();
    clock.advance(25 * HOUR);
    expect(await mid.get(JournalService).expireLots()).toBe(1);
    const [row, ...more] = await written();
    expect(more).toEqual([]);
    expect(row).toMatchObject({ type: 'points.expired', member_no: 'eve' });
    expect(row.occurred_at.toISOString()).toBe(iso());
    expect(row.data.event_no).toMatch(/^exp#\d+$/);
    expect(row.data).toEqual(
      data({ member_no: 'eve', event_no: row.data.event_no, event_type: 'expired', points: '7.1234', origin_event_no: e1, event_at: lotExpiry }),
    );
  });

  it('a batch of earns and spends writes its events in one statement, one per event, in the order recorded', async () => {
    await ok(earn('batch-0', 50));
    await written();
    const nos = Array.from({ length: 30 }, (_, i) => id(i % 3 ? 'earn' : 'spend'));
    const answers = await Promise.all(nos.map((no, i) => (i % 3 ? earn(`batch-${i % 5}`, 1, no) : spend('batch-0', 1, no))));
    expect(answers.every((a) => a.code === 0)).toBe(true);
    const rows = await written();
    expect(rows.map((r) => r.data.event_no).sort()).toEqual([...nos].sort());
    const journal = await mid.sql<{ event_no: string }>(`SELECT event_no FROM points.event WHERE crm_id = $1 AND event_no = ANY($2) ORDER BY auto_id`, [
      crm,
      nos,
    ]);
    expect(rows.map((r) => r.data.event_no)).toEqual(journal.map((j) => j.event_no));
    for (const r of rows) expect(r.type).toBe(r.data.event_type === 'produce' ? 'points.earned' : 'points.spent');
  });

  it('writes nothing for a refused change, a repeat, or one that rolls back', async () => {
    await ok(earn('ned', 1));
    const s = id('spend');
    await ok(spend('ned', 1, s));
    await written();
    expect((await spend('ned', 5)).code).toBe(40908);
    expect((await spend('ned', 1, s)).code).toBe(0); // the same spend again: answered, not recorded again
    const e = id('earn');
    await expect(
      mid.db.transaction(async (em) => {
        await mid.get(LedgerRepository).insertEvent(
          em,
          {
            crm_id: crm,
            event_no: e,
            member_no: 'ned',
            event_type: 'produce',
            points: '1',
            event_at: clock.now(),
            expire_time: null,
            unfreeze_time: null,
            action_scene: null,
            store_code: null,
            cost_center: null,
            campaign_code: null,
            operator: null,
            event_desc: null,
            order_items: null,
            origin_event_no: null,
            payload_hash: 'x',
          },
          clock.now(),
        );
        expect(await em.query(`SELECT count(*)::int AS n FROM points.webhook_outbox WHERE id > $1`, [last])).toEqual([{ n: 1 }]);
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(await written()).toEqual([]);
  });
});
