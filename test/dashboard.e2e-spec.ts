import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Bull from 'bull';
import { CARD_EVENTS_PER_JOB, CardEvent, CardEventBatch, cardEventBatches, cardEventBatchJobId, CardEventKind, Queue } from '@app/domain';
import { QueryRunner } from 'typeorm';
import { MemberSpanLastDay1732800000000 } from '../apps/dashboard-service/src/migrations/1732800000000-member-span-last-day';
import { Answer, AppProcess, Suite } from './support/suite';
import { expectInvalid } from './support/expect';

const HOUR = 3_600_000;
/** Asia/Shanghai has no daylight saving time: local time is UTC + 8 hours all year. */
const SHANGHAI = 8 * HOUR;

/** The instant (ISO 8601) of a Shanghai day and time. */
const at = (day: string, time = '10:00:00'): string => new Date(Date.parse(`${day}T${time}+08:00`)).toISOString();
const cardId = (): string => randomBytes(16).toString('hex');
/** Every day from a to b (YYYY-MM-DD), computed without the app's libraries. */
const days = (a: string, b: string): string[] => {
  const out: string[] = [];
  for (let t = Date.parse(`${a}T00:00:00Z`); t <= Date.parse(`${b}T00:00:00Z`); t += 24 * HOUR) out.push(new Date(t).toISOString().slice(0, 10));
  return out;
};

/**
 * The coupon dashboard end to end: batches of CardEvents added to the real `card-events`
 * Bull queue (as card-service's outbox relay adds them), applied by dashboard workers into
 * the rollups, read through the real gateway. Proves the numbers (every day listed,
 * distinct members, reversals on the original day, channels, top lists), that duplicated,
 * redelivered, overlapping and out-of-order deliveries count each event once, that a
 * worker killed mid-stream loses and double-counts nothing, that an invalid job is
 * discarded whole, the default range in the tenant's zone, and validation.
 */
describe('coupon dashboard', () => {
  let s: Suite;
  let queue: Bull.Queue<CardEventBatch>;
  const workers: AppProcess[] = [];
  const keys = new Map<string, string>();
  let seq = 0;

  beforeAll(async () => {
    s = await Suite.start({
      name: 'dashboard',
      services: ['dashboard-service'],
      controlClock: true,
      // The service started by the suite only answers requests; the workers are started here (and killed in one test).
      env: { ROLE: 'api', QUEUE_LOCK_MS: '1500' },
    });
    workers.push(s.spawn('dashboard-service', { ROLE: 'worker' }));
    await s.waitForInstances('dashboard-service', 2);
    queue = new Bull(Queue.CARD_EVENTS, s.redisUrl, { prefix: 'loyalty' });
  });
  afterEach(async () => {
    await s.setClock(0);
  });
  afterAll(async () => {
    await queue?.close();
    await s?.stop();
  });

  /** An admin key of the tenant (issued once). */
  async function adminKey(crm: string): Promise<string> {
    if (!keys.has(crm)) {
      const res = await s.post(`/api/crm/keys/${crm}`, { scope: 'admin' });
      expect(res.body).toMatchObject({ code: 0 });
      keys.set(crm, res.body.data.key);
    }
    return keys.get(crm)!;
  }

  function event(crm: string, kind: CardEventKind, over: Partial<CardEvent> & { day?: string; time?: string } = {}): CardEvent {
    const { day = '2024-03-01', time = '10:00:00', ...rest } = over;
    const when = at(day, time);
    return {
      crm_id: crm,
      event_id: `ev-${Date.now().toString(36)}-${++seq}`,
      kind,
      card_id: 'c'.repeat(32),
      title: 'card',
      member_no: 'm1',
      count: 1,
      channel: null,
      occurred_at: when,
      day_of: when,
      ref: null,
      ...rest,
    };
  }

  const jobOpts = (jobId: string): Bull.JobOptions => ({ jobId, attempts: 20, backoff: { type: 'fixed', delay: 100 }, removeOnComplete: true });

  type BatchJob = { data: CardEventBatch; opts: Bull.JobOptions };
  const batchJob = (events: CardEvent[], suffix = ''): BatchJob => {
    const data = { crm_id: events[0].crm_id, events };
    return { data, opts: jobOpts(`${cardEventBatchJobId(data)}${suffix}`) };
  };

  /** Adds events as the relay does in one pass: jobs of one tenant, at most CARD_EVENTS_PER_JOB each, jobId = cardEventBatchJobId. */
  async function send(...events: CardEvent[]): Promise<string[]> {
    const jobs = cardEventBatches(events).map((b) => batchJob(b.events));
    await queue.addBulk(jobs);
    return jobs.map((j) => j.opts.jobId as string);
  }

  /**
   * The jobs of a workload, delivered badly: the events cut into batches of random sizes
   * (1 to CARD_EVENTS_PER_JOB, as relay passes would), then every `every`-th batch again
   * whole under another id (`#again`), and as many overlapping batches (`#overlap`: the
   * second half of a batch with the first half of the next, sharing events with both),
   * everything in reverse order (the newest batches first).
   */
  function badDelivery(events: CardEvent[], every: number): BatchJob[] {
    const cuts: CardEvent[][] = [];
    for (let i = 0; i < events.length;) {
      const n = 1 + Math.floor(Math.random() * CARD_EVENTS_PER_JOB);
      cuts.push(...cardEventBatches(events.slice(i, i + n)).map((b) => b.events));
      i += n;
    }
    const jobs = cuts.map((b) => batchJob(b));
    cuts.forEach((b, i) => {
      if (i % every !== 0) return;
      jobs.push(batchJob(b, '#again'));
      const next = cuts[i + 1];
      if (next && next[0].crm_id === b[0].crm_id)
        jobs.push(batchJob([...b.slice(Math.floor(b.length / 2)), ...next.slice(0, Math.ceil(next.length / 2))], '#overlap'));
    });
    return jobs.reverse();
  }

  /** Waits until no job of these ids is left in the queue (each completed and was removed). */
  async function drained(jobIds: string[]): Promise<void> {
    await s.eventually(
      `${jobIds.length} job(s) to complete`,
      async () => {
        for (const id of jobIds) if (await queue.getJob(id)) return undefined;
        return true;
      },
      60_000,
      50,
    );
  }

  async function applied(crm: string, eventId: string): Promise<boolean> {
    return (await s.sql(`SELECT 1 FROM dashboard.applied_event WHERE crm_id = $1 AND event_id = $2`, [crm, eventId])).length === 1;
  }

  const path = (crm: string, route: string, query: string, spelling = 'dashbord') => `/api/crm/${spelling}/${crm}/${route}${query ? `?${query}` : ''}`;

  async function read(crm: string, route: string, query: string, spelling = 'dashbord'): Promise<Answer> {
    return s.get(path(crm, route, query, spelling), await adminKey(crm));
  }

  /** Polls a route until `match` holds for its data; answers the data. */
  async function until(crm: string, route: string, query: string, match: (d: any) => boolean, what = route, limitMs = 30_000): Promise<any> {
    let last: unknown;
    return s
      .eventually(
        `${what} of ${crm}`,
        async () => {
          const res = await read(crm, route, query);
          expect(res.body.code).toBe(0);
          expect(res.status).toBe(200);
          last = res.body.data;
          return match(res.body.data) ? res.body.data : undefined;
        },
        limitMs,
        50,
      )
      .catch((err) => {
        throw new Error(`${(err as Error).message}; last answer: ${JSON.stringify(last)}`);
      });
  }

  /** Polls until the data equals `expected` exactly (within the fields given). */
  const untilEqual = (crm: string, route: string, query: string, expected: Record<string, unknown>, limitMs?: number) =>
    until(crm, route, query, (d) => Object.entries(expected).every(([k, v]) => JSON.stringify(d[k]) === JSON.stringify(v)), route, limitMs);

  describe('card_trend', () => {
    const crm = 'dash_trend';
    const A = cardId();
    const B = cardId();
    const range = 'start_date=2024-03-01&end_date=2024-03-05';

    beforeAll(async () => {
      await send(
        event(crm, 'claim', { card_id: A, member_no: 'm1', count: 2, day: '2024-03-01', channel: '618' }),
        event(crm, 'claim', { card_id: B, member_no: 'm1', count: 1, day: '2024-03-01', channel: 'mini' }),
        event(crm, 'claim', { card_id: A, member_no: 'm1', count: 1, day: '2024-03-03' }),
        event(crm, 'claim', { card_id: B, member_no: 'm2', count: 1, day: '2024-03-03', time: '23:59:00' }),
        // 00:30 in Shanghai on 03-04 is 03-03 in UTC: it counts on 03-04.
        event(crm, 'claim', { card_id: A, member_no: 'm3', count: 1, day: '2024-03-04', time: '00:30:00' }),
        event(crm, 'redeem', { card_id: A, member_no: 'm1', count: 1, day: '2024-03-03', channel: 'pos' }),
        event(crm, 'redeem', { card_id: B, member_no: 'm1', count: 1, day: '2024-03-04', channel: 'pos' }),
        event(crm, 'gift', { card_id: A, member_no: 'm2', count: 1, day: '2024-03-04' }),
        event(crm, 'gift_accept', { card_id: A, member_no: 'm4', count: 1, day: '2024-03-04' }),
        event(crm, 'expire', { card_id: A, member_no: 'm1', count: 1, day: '2024-03-05' }),
        // Outside the range.
        event(crm, 'claim', { card_id: A, member_no: 'm9', count: 5, day: '2024-03-06' }),
      );
    });

    it('lists every day of the range (zeros included), each list lined up with tdate, distinct members per day and in total', async () => {
      const d = await untilEqual(crm, 'card_trend', range, {
        receive_num_list: [3, 0, 2, 1, 0],
        redeem_num_list: [0, 0, 1, 1, 0],
        present_num_list: [0, 0, 0, 1, 0],
      });
      expect(d).toEqual({
        tdate: ['2024-03-01', '2024-03-02', '2024-03-03', '2024-03-04', '2024-03-05'],
        receive_num: 6,
        receive_num_list: [3, 0, 2, 1, 0],
        // m1 claims on two days: once each day, once in the total.
        receive_member_num: 3,
        receive_member_num_list: [1, 0, 2, 1, 0],
        redeem_num: 2,
        redeem_num_list: [0, 0, 1, 1, 0],
        redeem_member_num: 1,
        redeem_member_num_list: [0, 0, 1, 1, 0],
        present_num: 1,
        present_num_list: [0, 0, 0, 1, 0],
        present_member_num: 1,
        present_member_num_list: [0, 0, 0, 1, 0],
      });
    });

    it('filters by card_id', async () => {
      await untilEqual(crm, 'card_trend', range, { receive_num: 6 });
      const res = await read(crm, 'card_trend', `${range}&card_id=${A}`);
      expect(res.body.data).toMatchObject({
        receive_num: 4,
        receive_num_list: [2, 0, 1, 1, 0],
        receive_member_num: 2,
        receive_member_num_list: [1, 0, 1, 1, 0],
        redeem_num_list: [0, 0, 1, 0, 0],
        redeem_member_num: 1,
        present_num: 1,
      });
      const b = await read(crm, 'card_trend', `${range}&card_id=${B}`);
      expect(b.body.data).toMatchObject({ receive_num: 2, receive_member_num: 2, receive_member_num_list: [1, 0, 1, 0, 0], present_num: 0 });
    });

    it('answers both spellings, dashbord and dashboard', async () => {
      const one = await until(crm, 'card_trend', range, (d) => d.receive_num === 6);
      const other = await read(crm, 'card_trend', range, 'dashboard');
      expect(other.status).toBe(200);
      expect(other.body.data).toEqual(one);
    });
  });

  describe('reversals, duplicates and order of arrival', () => {
    const A = cardId();
    const range = 'start_date=2024-03-01&end_date=2024-03-03';

    it('takes a reversed claim and a reversed redemption off the original day, card, channel and member', async () => {
      const crm = 'dash_reverse';
      const claim = event(crm, 'claim', { card_id: A, member_no: 'm1', count: 2, day: '2024-03-01', channel: '618' });
      const other = event(crm, 'claim', { card_id: A, member_no: 'm1', count: 1, day: '2024-03-02', channel: '618' });
      const redeem = event(crm, 'redeem', { card_id: A, member_no: 'm2', day: '2024-03-02', channel: 'pos' });
      await send(claim, other, redeem);
      await untilEqual(crm, 'card_trend', range, { receive_num_list: [2, 1, 0], receive_member_num_list: [1, 1, 0], redeem_member_num: 1 });

      // Reversed two days later: it counts against 03-01 (day_of), not 03-03.
      const later = at('2024-03-03', '12:00:00');
      await send(
        event(crm, 'claim_reverse', { card_id: A, member_no: 'm1', count: 2, channel: '618', occurred_at: later, day_of: claim.day_of }),
        event(crm, 'redeem_reverse', { card_id: A, member_no: 'm2', count: 1, channel: 'pos', occurred_at: later, day_of: redeem.day_of }),
      );
      const d = await untilEqual(crm, 'card_trend', range, { receive_num_list: [0, 1, 0], redeem_num_list: [0, 0, 0] });
      expect(d).toMatchObject({
        receive_num: 1,
        // m1's only claim of 03-01 is gone: no member that day; still one (03-02) in the total.
        receive_member_num_list: [0, 1, 0],
        receive_member_num: 1,
        redeem_num: 0,
        redeem_member_num: 0,
        redeem_member_num_list: [0, 0, 0],
      });
      const ch = await read(crm, 'card_channel', range);
      expect(ch.body.data).toEqual({ receive_channel_list: [{ channel_name: '618', receive_num: 1 }], redeem_channel_list: [] });
      const day1 = await read(crm, 'card_trend', 'start_date=2024-03-01&end_date=2024-03-01');
      expect(day1.body.data).toMatchObject({ receive_num: 0, receive_member_num: 0, tdate: ['2024-03-01'] });
    });

    it('ends in the same numbers when a reversal arrives before its claim', async () => {
      const crm = 'dash_order';
      const claim = event(crm, 'claim', { card_id: A, member_no: 'm1', count: 1, day: '2024-03-01', channel: 'x' });
      const keep = event(crm, 'claim', { card_id: A, member_no: 'm2', count: 1, day: '2024-03-01', channel: 'x' });
      const reverse = event(crm, 'claim_reverse', { card_id: A, member_no: 'm1', count: 1, channel: 'x', occurred_at: at('2024-03-02'), day_of: claim.day_of });
      await send(reverse);
      await s.eventually('the reversal to be applied first', async () => ((await applied(crm, reverse.event_id)) ? true : undefined));
      await send(claim, keep);
      const d = await untilEqual(crm, 'card_trend', range, { receive_num_list: [1, 0, 0], receive_member_num_list: [1, 0, 0] });
      expect(d).toMatchObject({ receive_num: 1, receive_member_num: 1 });
      const ch = await read(crm, 'card_channel', range);
      expect(ch.body.data.receive_channel_list).toEqual([{ channel_name: 'x', receive_num: 1 }]);
    });

    it('counts an event once: delivered twice, many times at once, and re-added after it completed', async () => {
      const crm = 'dash_dupes';
      const e = event(crm, 'claim', { card_id: A, member_no: 'm1', count: 3, day: '2024-03-02', channel: 'dup' });
      // The same event in 20 jobs added together (a relay that sent it again under another id): two workers take them at once.
      workers.push(s.spawn('dashboard-service', { ROLE: 'worker' }));
      await s.waitForInstances('dashboard-service', 3);
      const only = batchJob([e]);
      const ids = [only.opts.jobId as string, ...Array.from({ length: 19 }, (_v, i) => `${only.opts.jobId}#copy${i}`)];
      await Promise.all(ids.map((id) => queue.add(only.data, jobOpts(id))));
      await drained(ids);
      await untilEqual(crm, 'card_trend', range, { receive_num_list: [0, 3, 0], receive_member_num: 1 });

      // The same job id again after the first completed (and was removed): applied again, counted once.
      await drained(await send(e));
      // And once more in a batch with a copy of itself and a new event, and in an overlapping batch
      // (the new event and it, the other way round): only the new one counts, once.
      const next = event(crm, 'claim', { card_id: A, member_no: 'm2', count: 1, day: '2024-03-02', channel: 'dup' });
      const again = [batchJob([e, e, next], '#again'), batchJob([next, e], '#overlap')];
      await queue.addBulk(again);
      await drained(again.map((j) => j.opts.jobId as string));
      const d = await untilEqual(crm, 'card_trend', range, { receive_num_list: [0, 4, 0] });
      expect(d).toMatchObject({ receive_num: 4, receive_member_num: 2, receive_member_num_list: [0, 2, 0] });
      const ch = await read(crm, 'card_channel', range);
      expect(ch.body.data.receive_channel_list).toEqual([{ channel_name: 'dup', receive_num: 4 }]);
      const [row] = await s.sql(`SELECT count(*)::int AS n FROM dashboard.applied_event WHERE crm_id = $1`, [crm]);
      expect(row.n).toBe(2);
    });

    it('discards a job with one invalid event whole, at once and logged, nothing of it applied; so a job mixing tenants, an empty one and one over the size', async () => {
      const crm = 'dash_invalid';
      const good = [event(crm, 'claim', { card_id: A, day: '2024-03-02' }), event(crm, 'redeem', { card_id: A, day: '2024-03-02', channel: 'pos' })];
      const bad = { ...event(crm, 'claim', { card_id: A, day: '2024-03-02' }), count: 0 };
      const stranger = event('dash_invalid_other', 'claim', { card_id: A, day: '2024-03-02' });
      const cases: Array<[BatchJob, RegExp]> = [
        [batchJob([good[0], bad, good[1]]), /events\.1\.count/],
        [batchJob([good[0], stranger, good[1]]), /events\.1\.crm_id/],
        [{ data: { crm_id: crm, events: [] }, opts: jobOpts(`${crm}.empty`) }, /events/],
        [batchJob([...good, ...Array.from({ length: CARD_EVENTS_PER_JOB - 1 }, () => event(crm, 'claim', { card_id: A, day: '2024-03-02' }))]), /events/],
      ];
      expect(cases[3][0].data.events).toHaveLength(CARD_EVENTS_PER_JOB + 1);
      await queue.addBulk(cases.map(([j]) => j));
      for (const [j, why] of cases) {
        const id = j.opts.jobId as string;
        const failed = await s.eventually(`job ${id} to fail`, async () => {
          // Read again once failed: a job read before it moved holds its old attemptsMade.
          const job = await queue.getJob(id);
          return job && (await job.isFailed()) ? ((await queue.getJob(id)) ?? undefined) : undefined;
        });
        // Not retried although its options allow 20 attempts.
        expect([id, failed.attemptsMade]).toEqual([id, 1]);
        expect(failed.failedReason).toMatch(why);
      }
      for (const e of [...cases.flatMap(([j]) => j.data.events)]) expect([e.event_id, await applied(e.crm_id, e.event_id)]).toEqual([e.event_id, false]);
      await s.eventually('the discards to be logged', async () => {
        const logs = s
          .processes('dashboard-service')
          .map((p) => readFileSync(p.logFile, 'utf8'))
          .join('\n');
        return cases.every(([j]) => logs.includes(`card events job ${j.opts.jobId} discarded`)) ? true : undefined;
      });
      // The same good events in a valid job: applied.
      await drained(await send(...good));
      for (const e of good) expect([e.event_id, await applied(crm, e.event_id)]).toEqual([e.event_id, true]);
      await queue.clean(0, 'failed');
    });
  });

  it('card_channel: claims per out_str and redemptions per redeem_channel, largest first, ties by name', async () => {
    const crm = 'dash_channel';
    const A = cardId();
    const B = cardId();
    const claims: Array<[string | null, number, string]> = [
      ['b', 3, A],
      ['a', 2, A],
      ['a', 1, B],
      ['c', 5, B],
      [null, 1, A],
    ];
    await send(
      ...claims.map(([channel, count, card]) => event(crm, 'claim', { channel, count, card_id: card, day: '2024-03-02' })),
      event(crm, 'redeem', { channel: '微信小程序', count: 2, card_id: A, day: '2024-03-02' }),
      event(crm, 'redeem', { channel: 'pos', count: 3, card_id: B, day: '2024-03-03' }),
      event(crm, 'claim', { channel: 'z', count: 9, card_id: A, day: '2024-02-28' }),
    );
    const d = await until(
      crm,
      'card_channel',
      'start_date=2024-03-01&end_date=2024-03-05',
      (x) => x.redeem_channel_list.length === 2 && x.receive_channel_list.length === 4,
    );
    expect(d).toEqual({
      receive_channel_list: [
        { channel_name: 'c', receive_num: 5 },
        { channel_name: 'a', receive_num: 3 },
        { channel_name: 'b', receive_num: 3 },
        { channel_name: '', receive_num: 1 },
      ],
      redeem_channel_list: [
        { channel_name: 'pos', redeem_num: 3 },
        { channel_name: '微信小程序', redeem_num: 2 },
      ],
    });
    const a = await read(crm, 'card_channel', `start_date=2024-03-01&end_date=2024-03-05&card_id=${A}`);
    expect(a.body.data).toEqual({
      receive_channel_list: [
        { channel_name: 'b', receive_num: 3 },
        { channel_name: 'a', receive_num: 2 },
        { channel_name: '', receive_num: 1 },
      ],
      redeem_channel_list: [{ channel_name: '微信小程序', redeem_num: 2 }],
    });
  });

  it('card_top: most claimed and most redeemed cards with their latest titles; limit; receive_num and redeem_num in redeem_top', async () => {
    const crm = 'dash_top';
    const cards = Array.from({ length: 12 }, () => cardId()).sort();
    const events: CardEvent[] = [];
    cards.forEach((card, i) => {
      events.push(event(crm, 'claim', { card_id: card, title: `card ${i}`, count: i + 1, day: '2024-03-02' }));
      if (i % 2 === 0) events.push(event(crm, 'redeem', { card_id: card, title: `card ${i}`, count: 12 - i, day: '2024-03-03' }));
    });
    // Card 11's title changed; the newer title arrives first, the older one later: the newer one stays.
    events.push(event(crm, 'claim', { card_id: cards[11], title: 'renamed', count: 1, day: '2024-03-04' }));
    const old = event(crm, 'claim', { card_id: cards[11], title: 'card 11 old', count: 1, day: '2024-03-01' });
    // Card 0 ties with card 1 on claims (2 each).
    events.push(event(crm, 'claim', { card_id: cards[0], title: 'card 0', count: 1, day: '2024-03-02' }));
    await send(...events);
    const range = 'start_date=2024-03-01&end_date=2024-03-05';
    await until(crm, 'card_top', range, (d) => d.receive_top[0]?.receive_num === 13);
    await send(old);
    const d = await until(crm, 'card_top', `${range}&limit=3`, (x) => x.receive_top[0]?.receive_num === 14);
    expect(d).toEqual({
      receive_top: [
        { card_id: cards[11], title: 'renamed', receive_num: 14 },
        { card_id: cards[10], title: 'card 10', receive_num: 11 },
        { card_id: cards[9], title: 'card 9', receive_num: 10 },
      ],
      redeem_top: [
        { card_id: cards[0], title: 'card 0', receive_num: 12, redeem_num: 12 },
        { card_id: cards[2], title: 'card 2', receive_num: 10, redeem_num: 10 },
        { card_id: cards[4], title: 'card 4', receive_num: 8, redeem_num: 8 },
      ],
    });
    const ten = (await read(crm, 'card_top', range)).body.data;
    expect(ten.receive_top).toHaveLength(10);
    expect(ten.redeem_top).toHaveLength(6);
    // Ties by card_id: cards 0 and 1 both have 2 claims (cards are sorted by id).
    const all = (await read(crm, 'card_top', `${range}&limit=100`)).body.data;
    expect(all.receive_top).toHaveLength(12);
    expect(all.receive_top.slice(-2).map((r: any) => [r.card_id, r.receive_num])).toEqual([
      [cards[0], 2],
      [cards[1], 2],
    ]);
    // A range without events: empty lists.
    expect((await read(crm, 'card_top', 'start_date=2023-01-01&end_date=2023-01-31')).body.data).toEqual({ receive_top: [], redeem_top: [] });
  });

  it('defaults to the last 7 days, today included, in Asia/Shanghai by the services clock', async () => {
    const crm = 'dash_default';
    // 2024-05-20 17:30 UTC is 2024-05-21 01:30 in Shanghai: "today" is the 21st.
    const now = Date.parse('2024-05-20T17:30:00Z');
    await s.setClock(now - Date.now());
    await send(
      event(crm, 'claim', { occurred_at: new Date(now).toISOString(), day_of: new Date(now).toISOString() }),
      event(crm, 'claim', { day: '2024-05-15', count: 2 }),
      event(crm, 'claim', { day: '2024-05-14', count: 4 }),
    );
    const d = await until(crm, 'card_trend', '', (x) => x.receive_num === 3);
    expect(d.tdate).toEqual(days('2024-05-15', '2024-05-21'));
    expect(d.receive_num_list).toEqual([2, 0, 0, 0, 0, 0, 1]);
    expect(new Date(now + SHANGHAI).toISOString().slice(0, 10)).toBe('2024-05-21');
    // Only end_date: the 7 days up to it; only start_date: from it to today.
    expect((await read(crm, 'card_trend', 'end_date=2024-05-15')).body.data.tdate).toEqual(days('2024-05-09', '2024-05-15'));
    expect((await read(crm, 'card_trend', 'start_date=2024-05-19')).body.data.tdate).toEqual(days('2024-05-19', '2024-05-21'));
    expect((await read(crm, 'card_channel', '')).body.data.receive_channel_list).toEqual([{ channel_name: '', receive_num: 3 }]);
    // A start after today (the default end) is refused naming start_date.
    expectInvalid(await read(crm, 'card_trend', 'start_date=2024-05-22'), 'start_date');
  });

  describe('validation and access', () => {
    const crm = 'dash_valid';

    it.each([
      ['card_trend', 'start_date=2024-3-01', 'start_date'],
      ['card_trend', 'start_date=2024-02-30&end_date=2024-03-01', 'start_date'],
      ['card_trend', 'end_date=2024-13-01', 'end_date'],
      ['card_trend', 'start_date=2024-03-05&end_date=2024-03-01', 'start_date'],
      ['card_trend', 'start_date=2023-01-01&end_date=2024-01-02', 'end_date'],
      ['card_trend', 'card_id=xyz', 'card_id'],
      ['card_channel', 'start_date=2024-03-05&end_date=2024-03-01', 'start_date'],
      ['card_channel', 'end_date=yesterday', 'end_date'],
      ['card_top', 'limit=0', 'limit'],
      ['card_top', 'limit=101', 'limit'],
      ['card_top', 'limit=ten', 'limit'],
      ['card_top', 'start_date=2020-01-01&end_date=2024-01-01', 'end_date'],
    ])('%s?%s is 400 naming %s', async (route, query, field) => {
      expectInvalid(await read(crm, route, query), field);
    });

    it('accepts a range of exactly 366 days and limit 100', async () => {
      const res = await read(crm, 'card_trend', 'start_date=2023-01-01&end_date=2024-01-01');
      expect(res.status).toBe(200);
      expect(res.body.data.tdate).toHaveLength(366);
      expect(res.body.data.receive_num_list).toHaveLength(366);
      expect((await read(crm, 'card_top', 'limit=100')).status).toBe(200);
    });

    it('refuses client keys and other tenants keys, as other admin routes', async () => {
      const issued = await s.post(`/api/crm/keys/${crm}`, { scope: 'client' });
      const clientKey = issued.body.data.key as string;
      for (const route of ['card_trend', 'card_channel', 'card_top']) {
        for (const spelling of ['dashbord', 'dashboard']) {
          const res = await s.get(path(crm, route, '', spelling), clientKey);
          expect(res.body.code).toBe(40301);
          expect(res.status).toBe(403);
        }
      }
      const other = await s.get(path(crm, 'card_trend', ''), await adminKey('dash_other'));
      expect(other.status).toBe(403);
      expect((await s.get(path(crm, 'card_trend', ''), null)).status).toBe(401);
    });
  });

  const isLive = (w: AppProcess) => w.child.exitCode === null && w.child.signalCode === null;

  /** At least two live workers (one may have been killed by another test). */
  async function twoWorkers(): Promise<void> {
    const live = workers.filter(isLive).length;
    for (let i = live; i < 2; i++) workers.push(s.spawn('dashboard-service', { ROLE: 'worker' }));
    await s.waitForInstances('dashboard-service', 3);
  }

  /** Adds the events (shuffled, in batches delivered badly: badDelivery) and waits until every one is applied. */
  async function applyAll(crm: string, events: CardEvent[]): Promise<void> {
    const shuffled = [...events];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
    }
    const jobs = badDelivery(shuffled, 5);
    for (let i = 0; i < jobs.length; i += 20) await queue.addBulk(jobs.slice(i, i + 20));
    await s.eventually(
      `${events.length} events of ${crm} applied`,
      async () => {
        const [r] = await s.sql(`SELECT count(*)::int AS n FROM dashboard.applied_event WHERE crm_id = $1`, [crm]);
        return r.n === events.length ? true : undefined;
      },
      120_000,
      50,
    );
    await drained(jobs.map((j) => j.opts.jobId as string));
  }

  /**
   * A random event set of one tenant: claims over several cards, members, days and
   * channels (some near midnight in Shanghai), reversals of some of them (created after
   * their claim, delivered in any order), redemptions and their reversals, gifts, gift
   * accepts, expiries and voids. A card's title changes once, later.
   */
  function randomEvents(crm: string, n: number, dayList: string[], members: number): CardEvent[] {
    const cards = Array.from({ length: 6 }, () => cardId());
    const out: CardEvent[] = [];
    const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)];
    for (let i = 0; i < n; i++) {
      const card = pick(cards);
      const title = `title ${cards.indexOf(card)}`;
      const day = pick(dayList);
      const time = pick(['00:10:00', '09:30:00', '15:59:59', '16:00:00', '23:50:00']);
      const member_no = `m${Math.floor(Math.random() * members)}`;
      const count = 1 + Math.floor(Math.random() * 3);
      const roll = Math.random();
      if (roll < 0.45) {
        const claim = event(crm, 'claim', { card_id: card, title, member_no, count, day, time, channel: pick(['618', 'mini', null]) });
        out.push(claim);
        if (Math.random() < 0.25) {
          out.push(
            event(crm, 'claim_reverse', {
              card_id: card,
              title,
              member_no,
              count,
              channel: claim.channel,
              occurred_at: at(dayList[dayList.length - 1], '20:00:00'),
              day_of: claim.day_of,
            }),
          );
        }
      } else if (roll < 0.75) {
        const redeem = event(crm, 'redeem', { card_id: card, title, member_no, day, time, channel: pick(['pos', 'app']) });
        out.push(redeem);
        if (Math.random() < 0.25)
          out.push(
            event(crm, 'redeem_reverse', {
              card_id: card,
              title,
              member_no,
              channel: redeem.channel,
              occurred_at: at(dayList[dayList.length - 1], '21:00:00'),
              day_of: redeem.day_of,
            }),
          );
      } else if (roll < 0.88) {
        out.push(event(crm, 'gift', { card_id: card, title, member_no, day, time }));
      } else {
        out.push(event(crm, pick(['gift_accept', 'expire', 'void'] as CardEventKind[]), { card_id: card, title, member_no, count, day, time }));
      }
    }
    out.push(event(crm, 'claim', { card_id: cards[0], title: 'renamed', member_no: 'm0', day: dayList[dayList.length - 1], time: '23:59:59' }));
    return out;
  }

  /** The events as card-service's facts (no event_id), staged straight into dashboard.rebuild_event. */
  async function stageFacts(crm: string, events: CardEvent[]): Promise<void> {
    await s.sql(`DELETE FROM dashboard.rebuild_event WHERE crm_id = $1`, [crm]);
    const col = <K extends keyof CardEvent>(k: K) => events.map((e) => e[k]);
    await s.sql(
      `INSERT INTO dashboard.rebuild_event (crm_id, kind, card_id, title, member_no, count, channel, occurred_at, day_of)
       SELECT $1, f.* FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[], $8::timestamptz[], $9::timestamptz[])
         AS f(kind, card_id, title, member_no, count, channel, occurred_at, day_of)`,
      [crm, col('kind'), col('card_id'), col('title'), col('member_no'), col('count'), col('channel'), col('occurred_at'), col('day_of')],
    );
  }

  it('rebuild: the builder makes from the same facts exactly what the events built; reports a corrupted row (exit 1); --apply fixes it', async () => {
    const crm = 'dash_rebuild';
    const events = randomEvents(crm, 3_000, days('2024-06-01', '2024-06-10'), 40);
    await twoWorkers();
    await applyAll(crm, events);
    await stageFacts(crm, events);

    const same = await s.dashboardRebuild('--crm-id', crm, '--source', 'staged');
    expect([same.code, same.err]).toEqual([0, '']);
    expect(same.out).toContain(`dashboard rebuild of ${crm}: ${events.length} fact(s)`);
    const tables = [
      'card_day',
      'card_week',
      'tenant_day',
      'channel_day',
      'channel_day_all',
      'member_day',
      'member_all_day',
      'member_span',
      'member_day_count',
      'card',
    ];
    for (const t of tables) expect(same.out).toMatch(new RegExp(`^  ${t}\\s+[1-9]\\d* row\\(s\\) compared, 0 different$`, 'm'));
    expect(
      same.out
        .split('\n')
        .filter((l) => / row\(s\) compared, /.test(l))
        .map((l) => l.trim().split(/\s+/)[0]),
    ).toEqual(tables);
    // member_span holds both scopes: across cards ('') and per card.
    const [scopes] = await s.sql(
      `SELECT count(*) FILTER (WHERE card_id = '')::int AS all_cards, count(DISTINCT card_id) FILTER (WHERE card_id <> '')::int AS cards FROM dashboard.member_span WHERE crm_id = $1`,
      [crm],
    );
    expect(scopes.all_cards).toBeGreaterThan(0);
    expect(scopes.cards).toBe(6);
    expect(same.out).toMatch(/no difference$/m);
    // Rows the rebuild does not see as differences: zeros left by reversals live.
    const [zeros] = await s.sql(`SELECT count(*)::int AS n FROM dashboard.member_day WHERE crm_id = $1 AND num = 0`, [crm]);
    expect(zeros.n).toBeGreaterThan(0);

    // One live row off by 5 claims.
    const [row] = await s.sql(
      `SELECT day::text AS day, card_id, claim_num FROM dashboard.card_day WHERE crm_id = $1 AND claim_num > 0 ORDER BY day, card_id LIMIT 1`,
      [crm],
    );
    await s.sql(`UPDATE dashboard.card_day SET claim_num = claim_num + 5 WHERE crm_id = $1 AND day = $2 AND card_id = $3`, [crm, row.day, row.card_id]);
    const off = await s.dashboardRebuild('--crm-id', crm, '--source', 'staged');
    expect(off.code).toBe(1);
    expect(off.out).toMatch(/card_day\s+\d+ row\(s\) compared, 1 different/);
    expect(off.out).toContain('1 difference(s):');
    const listed = off.out.split('\n').filter((l) => l.startsWith('  card_day {'));
    expect(listed).toHaveLength(1);
    expect(listed[0]).toContain(`{"day":"${row.day}","card_id":"${row.card_id}"}`);
    expect(listed[0]).toContain(`"claim_num":${row.claim_num + 5}`);
    expect(listed[0]).toMatch(new RegExp(`rebuilt \\{[^}]*"claim_num":${row.claim_num}[,}]`));

    const fixed = await s.dashboardRebuild('--crm-id', crm, '--source', 'staged', '--apply');
    expect([fixed.code, fixed.err]).toEqual([0, '']);
    expect(fixed.out).toContain('applied');
    const again = await s.dashboardRebuild('--crm-id', crm, '--source', 'staged');
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/no difference$/m);
    const [back] = await s.sql(`SELECT claim_num FROM dashboard.card_day WHERE crm_id = $1 AND day = $2 AND card_id = $3`, [crm, row.day, row.card_id]);
    expect(back.claim_num).toBe(row.claim_num);
    // Zero rows are gone after the replace; applied_event is untouched.
    expect((await s.sql(`SELECT count(*)::int AS n FROM dashboard.member_day WHERE crm_id = $1 AND num = 0`, [crm]))[0].n).toBe(0);
    expect((await s.sql(`SELECT count(*)::int AS n FROM dashboard.applied_event WHERE crm_id = $1`, [crm]))[0].n).toBe(events.length);

    // A missing live row (member_span of a card, in every lane) is a difference with live null; a tenant_day row off is one too.
    await s.sql(
      `DELETE FROM dashboard.member_span WHERE (crm_id, kind, card_id, day, prev_day) =
         (SELECT crm_id, kind, card_id, day, prev_day FROM dashboard.member_span WHERE crm_id = $1 AND card_id <> '' AND n > 0 LIMIT 1)`,
      [crm],
    );
    await s.sql(`UPDATE dashboard.tenant_day SET redeem_num = redeem_num - 1 WHERE crm_id = $1 AND day = $2`, [crm, row.day]);
    const gone = await s.dashboardRebuild('--crm-id', crm, '--source', 'staged');
    expect(gone.code).toBe(1);
    expect(gone.out).toMatch(/member_span \{[^}]*"card_id":"[0-9a-f]{32}"[^}]*\}: live null, rebuilt \{"n":\d+\}/);
    expect(gone.out).toMatch(new RegExp(`tenant_day \\{"day":"${row.day}"\\}: live \\{`));
    expect(gone.out).toContain('2 difference(s):');

    // Bad arguments: exit 2.
    expect((await s.dashboardRebuild('--source', 'staged')).code).toBe(2);
  }, 180_000);

  it('distinct members across cards and per card (member_span) equal count(DISTINCT) over member_day for any range, after two workers applied a random workload', async () => {
    const crm = 'dash_span';
    const dayList = days('2024-07-01', '2024-07-12');
    // Few members, many events: many days of each member move up and down in the same batches.
    const events = randomEvents(crm, 6_000, dayList, 25);
    await twoWorkers();
    await applyAll(crm, events);

    // card_trend counts a range from its start when the latest active day (07-12) is further from the range's end than the range
    // is long (07-01..07-01, 07-02..07-04, 07-01..07-05), else from the end (the rest; 07-03..07-07 also takes away members whose
    // gap jumps over the whole range): both ways must equal count(DISTINCT).
    const ranges: Array<[string, string]> = [
      ['2024-07-01', '2024-07-12'],
      ['2024-07-01', '2024-07-01'],
      ['2024-07-02', '2024-07-04'],
      ['2024-07-01', '2024-07-05'],
      ['2024-07-03', '2024-07-07'],
      ['2024-07-06', '2024-07-12'],
      ['2024-07-12', '2024-07-12'],
      ['2024-06-25', '2024-07-04'],
      ['2024-07-10', '2024-07-20'],
      // card_top reads whole weeks (Mondays: 07-01, 07-08) from card_week, the days around them from card_day.
      ['2024-07-01', '2024-07-07'],
      ['2024-06-28', '2024-07-09'],
    ];
    for (const [a, b] of ranges) {
      const truth = await s.sql(
        `SELECT k.kind, count(DISTINCT m.member_no)::int AS total,
                array(SELECT count(DISTINCT m2.member_no)::int FROM generate_series($2::date, $3::date, '1 day') AS d
                        LEFT JOIN dashboard.member_day m2 ON m2.crm_id = $1 AND m2.kind = k.kind AND m2.day = d AND m2.num > 0
                       GROUP BY d ORDER BY d) AS per_day
           FROM (VALUES ('claim'), ('redeem'), ('present')) AS k(kind)
           LEFT JOIN dashboard.member_day m ON m.crm_id = $1 AND m.kind = k.kind AND m.day BETWEEN $2::date AND $3::date AND m.num > 0
          GROUP BY k.kind`,
        [crm, a, b],
      );
      const by = new Map(truth.map((t) => [t.kind as string, t]));
      const [span] = await s.sql(
        `SELECT coalesce(sum(n) FILTER (WHERE kind = 'claim' AND prev_day < $2::date), 0)::int AS claim,
                coalesce(sum(n) FILTER (WHERE kind = 'redeem' AND prev_day < $2::date), 0)::int AS redeem,
                coalesce(sum(n) FILTER (WHERE kind = 'present' AND prev_day < $2::date), 0)::int AS present
           FROM dashboard.member_span WHERE crm_id = $1 AND card_id = '' AND day BETWEEN $2::date AND $3::date`,
        [crm, a, b],
      );
      expect([a, b, span]).toEqual([a, b, { claim: by.get('claim').total, redeem: by.get('redeem').total, present: by.get('present').total }]);
      const d = (await read(crm, 'card_trend', `start_date=${a}&end_date=${b}`)).body.data;
      expect([a, b, d.receive_member_num, d.redeem_member_num, d.present_member_num]).toEqual([
        a,
        b,
        by.get('claim').total,
        by.get('redeem').total,
        by.get('present').total,
      ]);
      expect([a, b, d.receive_member_num_list, d.redeem_member_num_list, d.present_member_num_list]).toEqual([
        a,
        b,
        by.get('claim').per_day,
        by.get('redeem').per_day,
        by.get('present').per_day,
      ]);
      // card_top equals card_day summed over the range, whatever the weeks.
      const sums = await s.sql(
        `SELECT card_id, sum(claim_num)::int AS claims, sum(redeem_num)::int AS redeems FROM dashboard.card_day
          WHERE crm_id = $1 AND day BETWEEN $2::date AND $3::date GROUP BY card_id`,
        [crm, a, b],
      );
      const ranked = (n: (r: any) => number) =>
        sums
          .filter((r) => n(r) > 0)
          .sort((x, y) => n(y) - n(x) || (x.card_id < y.card_id ? -1 : 1))
          .map((r) => [r.card_id, n(r)]);
      const top = (await read(crm, 'card_top', `start_date=${a}&end_date=${b}&limit=100`)).body.data;
      expect([a, b, top.receive_top.map((r: any) => [r.card_id, r.receive_num])]).toEqual([a, b, ranked((r) => r.claims)]);
      expect([a, b, top.redeem_top.map((r: any) => [r.card_id, r.redeem_num])]).toEqual([a, b, ranked((r) => r.redeems)]);
    }
    // Per card: the card's member_span rows (and card_trend with card_id) equal count(DISTINCT) over its member_day rows.
    const cards = (await s.sql(`SELECT DISTINCT card_id FROM dashboard.member_day WHERE crm_id = $1 ORDER BY 1`, [crm])).map((r) => r.card_id as string);
    expect(cards).toHaveLength(6);
    for (const card of cards) {
      for (const [a, b] of ranges) {
        const truth = await s.sql(
          `SELECT k.kind,
                  (SELECT count(DISTINCT m.member_no)::int FROM dashboard.member_day m
                    WHERE m.crm_id = $1 AND m.kind = k.kind AND m.card_id = $4 AND m.day BETWEEN $2::date AND $3::date AND m.num > 0) AS total,
                  array(SELECT count(DISTINCT m2.member_no)::int FROM generate_series($2::date, $3::date, '1 day') AS d
                          LEFT JOIN dashboard.member_day m2 ON m2.crm_id = $1 AND m2.kind = k.kind AND m2.card_id = $4 AND m2.day = d AND m2.num > 0
                         GROUP BY d ORDER BY d) AS per_day,
                  (SELECT coalesce(sum(n), 0)::int FROM dashboard.member_span p
                    WHERE p.crm_id = $1 AND p.kind = k.kind AND p.card_id = $4 AND p.day BETWEEN $2::date AND $3::date AND p.prev_day < $2::date) AS span
             FROM (VALUES ('claim'), ('redeem'), ('present')) AS k(kind)`,
          [crm, a, b, card],
        );
        const by = new Map(truth.map((t) => [t.kind as string, t]));
        for (const t of truth) expect([card, a, b, t.kind, t.span]).toEqual([card, a, b, t.kind, t.total]);
        const d = (await read(crm, 'card_trend', `start_date=${a}&end_date=${b}&card_id=${card}`)).body.data;
        expect([card, a, b, d.receive_member_num, d.redeem_member_num, d.present_member_num]).toEqual([
          card,
          a,
          b,
          by.get('claim').total,
          by.get('redeem').total,
          by.get('present').total,
        ]);
        expect([card, a, b, d.receive_member_num_list, d.redeem_member_num_list, d.present_member_num_list]).toEqual([
          card,
          a,
          b,
          by.get('claim').per_day,
          by.get('redeem').per_day,
          by.get('present').per_day,
        ]);
      }
    }
    // The tenant-wide rows equal the per-card ones summed.
    const [sums] = await s.sql(
      `SELECT (SELECT count(*)::int FROM (SELECT day, sum(claim_num) AS c, sum(redeem_num) AS r, sum(present_num) AS p, sum(claim_reverse_num) AS cr FROM dashboard.card_day WHERE crm_id = $1 GROUP BY day) x
                FULL JOIN (SELECT * FROM dashboard.tenant_day WHERE crm_id = $1) t USING (day)
               WHERE (x.c, x.r, x.p, x.cr) IS DISTINCT FROM (t.claim_num::numeric, t.redeem_num::numeric, t.present_num::numeric, t.claim_reverse_num::numeric)) AS tenant_off,
              (SELECT count(*)::int FROM (SELECT kind, day, channel, sum(num) AS num FROM dashboard.channel_day WHERE crm_id = $1 GROUP BY 1, 2, 3 HAVING sum(num) <> 0) x
                FULL JOIN (SELECT * FROM dashboard.channel_day_all WHERE crm_id = $1 AND num <> 0) t USING (kind, day, channel)
               WHERE x.num IS DISTINCT FROM t.num::numeric) AS channel_off`,
      [crm],
    );
    expect(sums).toEqual({ tenant_off: 0, channel_off: 0 });
    // No member_span row below 0 (a member's spans are all in its lane's rows), and the workload moved members' days up and down, across cards and per card.
    expect((await s.sql(`SELECT count(*)::int AS n FROM dashboard.member_span WHERE crm_id = $1 AND n < 0`, [crm]))[0].n).toBe(0);
    const [moved] = await s.sql(
      `SELECT count(*) FILTER (WHERE card_id = '')::int AS all_cards, count(*) FILTER (WHERE card_id <> '')::int AS per_card
         FROM dashboard.member_span WHERE crm_id = $1 AND prev_day > '0001-01-01' AND n > 0`,
      [crm],
    );
    expect(moved.all_cards).toBeGreaterThan(0);
    expect(moved.per_card).toBeGreaterThan(0);
    // The members were applied in both lanes (DASHBOARD_LANES 2), each lane adding to its own span and count rows.
    const lanes = await s.sql(`SELECT lane, count(*)::int AS n FROM dashboard.member_span WHERE crm_id = $1 GROUP BY lane ORDER BY lane`, [crm]);
    expect(lanes.map((l) => l.lane)).toEqual([0, 1]);

    // The migration that added the chains' closing pairs (NO_NEXT_DAY) to data applied before it computes the same rows.
    const lastDayRows = async () => ({
      spans: await s.sql(
        `SELECT kind, card_id, prev_day::text, sum(n)::int AS n FROM dashboard.member_span WHERE crm_id = $1 AND day = '9999-12-31' GROUP BY 1, 2, 3 HAVING sum(n) <> 0 ORDER BY 1, 2, 3`,
        [crm],
      ),
      counts: await s.sql(
        `SELECT kind, card_id, sum(members)::int AS members FROM dashboard.member_day_count WHERE crm_id = $1 AND day = '9999-12-31' GROUP BY 1, 2 HAVING sum(members) <> 0 ORDER BY 1, 2`,
        [crm],
      ),
    });
    const live = await lastDayRows();
    expect(live.spans.length).toBeGreaterThan(6);
    expect(
      live.counts
        .filter((c) => c.card_id === '')
        .map((c) => c.kind)
        .sort(),
    ).toEqual(['claim', 'present', 'redeem']);
    await s.sql(`DELETE FROM dashboard.member_span WHERE crm_id = $1 AND day = '9999-12-31'`, [crm]);
    await s.sql(`DELETE FROM dashboard.member_day_count WHERE crm_id = $1 AND day = '9999-12-31'`, [crm]);
    await new MemberSpanLastDay1732800000000().up({ query: (text: string) => s.sql(text) } as unknown as QueryRunner);
    expect(await lastDayRows()).toEqual(live);
  }, 240_000);

  it('loses nothing and counts nothing twice when a worker is killed mid-stream (two workers, duplicates, shuffled order)', async () => {
    const crm = 'dash_kill';
    const cards = Array.from({ length: 20 }, () => cardId());
    const dayList = days('2024-04-01', '2024-04-05');
    const events: CardEvent[] = [];
    const claims = new Map<string, number>(); // day -> net codes
    const net = new Map<string, number>(); // day|member -> net codes
    const add = (day: string, member: string, n: number) => {
      claims.set(day, (claims.get(day) ?? 0) + n);
      net.set(`${day}|${member}`, (net.get(`${day}|${member}`) ?? 0) + n);
    };
    for (let i = 0; i < 12_000; i++) {
      const day = dayList[i % 5];
      const member = `m${i % 700}`;
      const count = 1 + (i % 3);
      const claim = event(crm, 'claim', {
        card_id: cards[i % 20],
        member_no: member,
        count,
        day,
        time: `${String(i % 24).padStart(2, '0')}:00:00`,
        channel: `ch${i % 4}`,
      });
      events.push(claim);
      add(day, member, count);
      if (i % 10 === 0) {
        events.push(
          event(crm, 'claim_reverse', {
            card_id: claim.card_id,
            member_no: member,
            count,
            channel: claim.channel,
            occurred_at: at('2024-04-06'),
            day_of: claim.day_of,
          }),
        );
        add(day, member, -count);
      }
    }
    // Shuffled (reversals may come first), in batches of random sizes, a quarter of them again whole and overlapped, newest first.
    for (let i = events.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [events[i], events[j]] = [events[j], events[i]];
    }
    const jobs = badDelivery(events, 4);
    const expected = {
      receive_num_list: dayList.map((d) => claims.get(d) ?? 0),
      receive_member_num_list: dayList.map((d) => [...net.entries()].filter(([k, v]) => k.startsWith(`${d}|`) && v > 0).length),
      receive_member_num: new Set([...net.entries()].filter(([, v]) => v > 0).map(([k]) => k.split('|')[1])).size,
    };

    // Two workers take the stream together; one of them is killed.
    if (workers.filter(isLive).length < 2) {
      workers.push(s.spawn('dashboard-service', { ROLE: 'worker' }));
      await s.waitForInstances('dashboard-service', 3);
    }
    const live = workers.filter(isLive);
    const started = Date.now();
    for (let i = 0; i < jobs.length; i += 20) await queue.addBulk(jobs.slice(i, i + 20));
    const count = async () => (await s.sql(`SELECT count(*)::int AS n FROM dashboard.applied_event WHERE crm_id = $1`, [crm]))[0].n as number;
    await s.eventually('the workers to be part-way', async () => ((await count()) >= 1_500 ? true : undefined), 60_000, 10);
    await live[0].kill('SIGKILL');
    const atKill = await count();
    expect(atKill).toBeLessThan(events.length);
    workers.push(s.spawn('dashboard-service', { ROLE: 'worker' }));

    const range = 'start_date=2024-04-01&end_date=2024-04-05';
    const d = await untilEqual(crm, 'card_trend', range, expected, 120_000);
    const ms = Date.now() - started;
    expect(d.receive_num).toBe(expected.receive_num_list.reduce((a, b) => a + b, 0));
    expect(await count()).toBe(events.length);
    // The killed worker's jobs come back once their locks run out (QUEUE_LOCK_MS): they find their events applied.
    await s.eventually(
      'the queue to drain',
      async () => {
        const c = await queue.getJobCounts();
        return c.waiting + c.active + c.delayed === 0 ? c : undefined;
      },
      60_000,
      100,
    );
    expect(await queue.getJobCounts()).toMatchObject({ waiting: 0, active: 0, failed: 0, delayed: 0 });
    expect((await read(crm, 'card_trend', range)).body.data).toMatchObject(expected);
    expect(await count()).toBe(events.length);
    const ch = (await read(crm, 'card_channel', range)).body.data.receive_channel_list as Array<{ receive_num: number }>;
    expect(ch.reduce((a, c) => a + c.receive_num, 0)).toBe(d.receive_num);

    console.log(`dashboard: ${jobs.length} jobs (${events.length} events) applied in ${ms} ms with a worker killed after ${atKill}`);
  }, 180_000);
});
