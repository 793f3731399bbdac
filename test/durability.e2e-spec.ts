import Bull from 'bull';
import { CardEventBatch, CardExpiryJob, CardStockJob, PointsEventKind, PointsExpiryJob, Queue } from '@app/domain';
import { PointsClient } from '@app/platform';
import { AppProcess, cardBody, Suite } from './support/suite';
import { uid } from './support/expect';

/**
 * PostgreSQL is the record, Redis only a carrier (DESIGN.md): losing Redis's data (a
 * FLUSHDB of the suite's logical database, as a fresh or failed-over Redis would) delays
 * work, never loses it. Each scenario loses Redis's data at the worst moment and checks,
 * from PostgreSQL and the API, that everything still happens exactly once. Time is driven
 * by short configured intervals (OUTBOX_RECHECK_MS, STOCK_RECOVER_MS, QUEUE_REPEAT_CHECK_MS,
 * POINTS_INBOX_POLL_MS); the test polls for conditions, it never sleeps for business time.
 */
describe('durability: losing Redis delays work, never loses it', () => {
  let s: Suite;
  let cardWorker: AppProcess;
  let pointsWorker: AppProcess;
  const crm = 'dur_t';

  /** Waits until a process has printed its ready line. */
  async function ready(p: AppProcess): Promise<void> {
    const { readFile } = await import('node:fs/promises');
    await s.eventually(`${p.name} to be ready`, async () => ((await readFile(p.logFile, 'utf8')).includes('ready: role') ? true : undefined));
  }

  beforeAll(async () => {
    // The gateway only: each service as an api process and a worker process of its own, so a test can stop one side.
    s = await Suite.start({
      name: 'durability',
      services: [],
      env: {
        OUTBOX_POLL_MS: '50',
        OUTBOX_RECHECK_MS: '300',
        STOCK_RECOVER_MS: '500',
        STOCK_BATCH_SIZE: '500',
        QUEUE_REPEAT_CHECK_MS: '300',
        POINTS_INBOX_POLL_MS: '100',
      },
    });
    s.spawn('card-service', { ROLE: 'api' });
    cardWorker = s.spawn('card-service', { ROLE: 'worker' });
    s.spawn('points-service', { ROLE: 'api' });
    pointsWorker = s.spawn('points-service', { ROLE: 'worker' });
    await s.waitForInstances('card-service', 1);
    await s.waitForInstances('points-service', 1);
    await ready(cardWorker);
    await ready(pointsWorker);
  }, 120_000);
  afterAll(() => s?.stop());

  const one = async <T = any>(sql: string, params: unknown[] = []): Promise<T> => (await s.sql<T>(sql, params))[0];

  /** The queues' repeat definitions, as `<queue>:<name>`. */
  async function repeatDefinitions(): Promise<string[]> {
    const out: string[] = [];
    for (const name of [Queue.CARD_EXPIRY, Queue.POINTS_EXPIRY, Queue.CARD_STOCK]) {
      const q = new Bull(name, s.redisUrl, { prefix: 'loyalty' });
      try {
        for (const j of await q.getRepeatableJobs()) out.push(`${name}:${j.name}`);
      } finally {
        await q.close();
      }
    }
    return out.sort();
  }
  const EVERY_SWEEP = [
    ...Object.values(CardExpiryJob).map((n) => `${Queue.CARD_EXPIRY}:${n}`),
    ...Object.values(PointsExpiryJob).map((n) => `${Queue.POINTS_EXPIRY}:${n}`),
    `${Queue.CARD_STOCK}:${CardStockJob.RECOVER}`,
  ].sort();

  it('(d) repeatable sweep definitions come back after Redis lost them', async () => {
    await s.eventually('every sweep defined', async () => ((await repeatDefinitions()).join() === EVERY_SWEEP.join() ? true : undefined), 20_000);
    const { readFile } = await import('node:fs/promises');
    const noticed = async () =>
      (await readFile(cardWorker.logFile, 'utf8')).includes('recover were gone from Redis: defined again') &&
      (await readFile(pointsWorker.logFile, 'utf8')).includes('expire-lots, return-transfers were gone from Redis: defined again');
    expect(await noticed()).toBe(false);
    await s.redis.flushdb();
    // QUEUE_REPEAT_CHECK_MS = 300: each worker finds its sweeps gone and defines them again, no restart needed.
    await s.eventually('the workers to notice', async () => ((await noticed()) ? true : undefined), 20_000);
    await s.eventually('every sweep defined again', async () => ((await repeatDefinitions()).join() === EVERY_SWEEP.join() ? true : undefined), 20_000);
  });

  it('(b) a stock job lost mid-generation (its worker killed, Redis flushed) is finished by the recovery sweep: exactly N distinct codes', async () => {
    const N = 60_000;
    const res = await s.post(
      `/api/crm/card/${crm}/create`,
      cardBody({ date_type: 3, begin_time: null, end_time: null, weekdays: null, monthdays: null, generate_type: 1, total_quantity: N }),
    );
    expect(res.body).toMatchObject({ code: 0 });
    const cardId = res.body.data.card_id as string;
    const generated = async () =>
      one<{ generated: number; is_generated: boolean }>(`SELECT generated::int, is_generated FROM card.card_generate WHERE crm_id = $1 AND card_id = $2`, [
        crm,
        cardId,
      ]);
    // Mid-generation: some batches (of STOCK_BATCH_SIZE = 500) committed, not all.
    await s.eventually('the first codes', async () => ((await generated()).generated > 0 ? true : undefined), 30_000, 10);
    await cardWorker.kill('SIGKILL');
    const atKill = await generated();
    expect(atKill.is_generated).toBe(false);
    expect(atKill.generated).toBeLessThan(N);

    // A new worker, then Redis loses everything: the job, its lock, the recovery sweep's definition.
    cardWorker = s.spawn('card-service', { ROLE: 'worker' });
    await ready(cardWorker);
    await s.redis.flushdb();

    await s.eventually('the stock to be finished', async () => ((await generated()).is_generated ? true : undefined), 90_000, 200);
    expect(await generated()).toEqual({ generated: N, is_generated: true });
    expect(
      await one(`SELECT count(*)::int AS codes, count(DISTINCT card_code)::int AS distinct_codes FROM card.card_code WHERE crm_id = $1 AND card_id = $2`, [
        crm,
        cardId,
      ]),
    ).toEqual({ codes: N, distinct_codes: N });
    const status = await s.get(`/api/crm/card/${crm}/stock/status?generate_id=init-${cardId}`);
    expect(status.body).toMatchObject({ code: 0, data: { is_generated: true } });
  }, 180_000);

  describe('card events', () => {
    let cardId: string;
    let copies: CardEventBatch[] = [];
    const claim = (member: string) =>
      s.post(`/api/crm/card/${crm}/member/receive`, { received_id: uid('rcv'), member_no: member, out_str: 'dur', card_info: { [cardId]: 1 } });
    const outbox = () =>
      one<{ waiting: number; relayed: number }>(
        `SELECT count(*) FILTER (WHERE relayed_at IS NULL)::int AS waiting, count(*) FILTER (WHERE relayed_at IS NOT NULL)::int AS relayed FROM card.outbox`,
      );

    it('(a) rows relayed, then Redis flushed before the dashboard applied them: after the recheck the dashboard equals the card schema', async () => {
      cardId = await s.createStockedCard(crm, { total_quantity: 50 });
      const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => claim(`m-dur-${i % 10}`)));
      for (const a of answers) expect(a.body).toMatchObject({ code: 0 });
      // No dashboard runs yet: every row is relayed, and stays (its job has not completed).
      await s.eventually('every row relayed', async () => {
        const o = await outbox();
        return o.waiting === 0 && o.relayed >= 30 ? true : undefined;
      });
      const relayedBefore = (await outbox()).relayed;
      await s.redis.flushdb();

      // The recheck finds the jobs gone and relays the rows again: nothing is lost, nothing deleted.
      const queue = new Bull<CardEventBatch>(Queue.CARD_EVENTS, s.redisUrl, { prefix: 'loyalty' });
      try {
        const jobs = await s.eventually('the rows relayed again', async () => {
          const o = await outbox();
          const waiting = await queue.getJobs(['waiting'], 0, -1);
          const events = waiting.reduce((n, j) => n + j.data.events.length, 0);
          return o.waiting === 0 && o.relayed === relayedBefore && events === relayedBefore ? waiting : undefined;
        });
        copies = jobs.map((j) => j.data);
      } finally {
        await queue.close();
      }

      s.spawn('dashboard-service');
      await s.waitForInstances('dashboard-service', 1);
      // Applied, then the recheck sees the jobs completed and deletes the rows.
      await s.eventually('the outbox emptied', async () => ((await outbox()).relayed === 0 ? true : undefined), 60_000);
      const check = await s.dashboardRebuild('--crm-id', crm);
      expect(check.err).toBe('');
      expect(check.out).toMatch(/no difference$/m);
      expect(check.code).toBe(0);
      const [{ n }] = await s.sql(`SELECT count(*)::int AS n FROM dashboard.applied_event WHERE crm_id = $1`, [crm]);
      expect(n).toBe(relayedBefore);
    }, 120_000);

    it('(e) a card-events batch delivered again (another job id) changes no count', async () => {
      expect(copies.length).toBeGreaterThan(0);
      const counts = () => s.sql(`SELECT * FROM dashboard.card_day WHERE crm_id = $1 ORDER BY 1, 2, 3`, [crm]);
      const before = await counts();
      expect(before.length).toBeGreaterThan(0);
      const queue = new Bull<CardEventBatch>(Queue.CARD_EVENTS, s.redisUrl, { prefix: 'loyalty' });
      try {
        const jobs = await queue.addBulk(copies.map((data, i) => ({ data, opts: { jobId: `again.${i}.${Date.now()}`, attempts: 3 } })));
        await s.eventually('the copies applied', async () => {
          const states = await Promise.all(jobs.map((j) => j.getState()));
          return states.every((st) => st === 'completed') ? true : undefined;
        });
        for (const j of jobs) {
          const done = (await queue.getJob(j.id))!;
          expect(done.returnvalue).toMatchObject({ events: j.data.events.length, applied: 0 });
        }
      } finally {
        await queue.close();
      }
      expect(await counts()).toEqual(before);
      const check = await s.dashboardRebuild('--crm-id', crm);
      expect(check.out).toMatch(/no difference$/m);
    }, 60_000);
  });

  it('(c) points events acknowledged, Redis flushed before any worker took them: all applied, each event_no once', async () => {
    // No points worker: what is acknowledged can only be in PostgreSQL.
    await pointsWorker.kill('SIGTERM');
    const client = new PointsClient({ redisUrl: s.redisUrl });
    const members = ['p-dur-1', 'p-dur-2', 'p-dur-3'];
    const earns = Array.from({ length: 60 }, (_, i) => ({ event_no: uid('dur-earn'), member_no: members[i % 3], event_type: 'order', points: 1.5 }));
    const spends = members.map((m) => ({ event_no: uid('dur-spend'), member_no: m, points: 2 }));
    try {
      const acks = await Promise.all(earns.map((e) => client.enqueue(PointsEventKind.PRODUCE_DIRECT, crm, e)));
      for (const a of acks) expect(a).toMatchObject({ code: 0, data: { duplicate: false } });
      // Sent twice (a producer retrying): one row each.
      for (const e of earns.slice(0, 5))
        expect(await client.enqueue(PointsEventKind.PRODUCE_DIRECT, crm, e)).toMatchObject({ code: 0, data: { duplicate: true } });
      for (const sp of spends) expect(await client.enqueue(PointsEventKind.CONSUME_DIRECT, crm, sp)).toMatchObject({ code: 0 });
    } finally {
      await client.close();
    }
    expect(await one(`SELECT count(*)::int AS n FROM points.inbox WHERE crm_id = $1 AND done_at IS NULL`, [crm])).toEqual({ n: 63 });
    await s.redis.flushdb();

    pointsWorker = s.spawn('points-service', { ROLE: 'worker' });
    await s.eventually(
      'the inbox applied',
      async () => ((await one(`SELECT count(*)::int AS n FROM points.inbox WHERE crm_id = $1 AND done_at IS NULL`, [crm])).n === 0 ? true : undefined),
      60_000,
    );
    const applied = await s.sql(`SELECT event_no, count(*)::int AS n FROM points.event WHERE crm_id = $1 AND event_no = ANY($2) GROUP BY event_no`, [
      crm,
      [...earns, ...spends].map((e) => e.event_no),
    ]);
    expect(applied).toHaveLength(63);
    expect(applied.every((r) => r.n === 1)).toBe(true);
    expect(await one(`SELECT count(*)::int AS n FROM points.inbox WHERE crm_id = $1 AND outcome_code <> 0`, [crm])).toEqual({ n: 0 });
    for (const m of members) {
      const sum = await s.get(`/api/crm/points/${crm}/summary?member_no=${m}`);
      expect(sum.body).toMatchObject({ code: 0 });
      expect(Number(sum.body.data.total_points)).toBe(30);
      expect(Number(sum.body.data.used_points)).toBe(2);
      expect(Number(sum.body.data.active_points)).toBe(28);
    }
  }, 120_000);
});
