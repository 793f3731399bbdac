import Bull from 'bull';
import { CardEventBatch, Queue } from '@app/domain';
import { AppProcess, Suite } from './support/suite';
import { uid } from './support/expect';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** A small deterministic PRNG (mulberry32): the same workload on every run. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The dashboard never drifts from card-service, end to end: a random workload of every
 * card state change through the real gateway (claims, claim reversals, gifts accepted
 * and returned by the sweep, redemptions and their reversals, expiry by the sweep, voids)
 * over several days of the services' clock; meanwhile the dashboard worker is killed
 * mid-stream and started again, and copies of the queued batches are added again under
 * other job ids, whole and overlapping, in reverse order (duplicate and out-of-order
 * deliveries). When everything is
 * applied, `dashboard:rebuild` recomputes the tenant's rollups from card-service's own
 * tables (asked over the transport) and finds no difference.
 */
describe('dashboard never drifts (random workload, killed worker, duplicates, rebuild)', () => {
  let s: Suite;
  let queue: Bull.Queue<CardEventBatch>;
  const crm = 'crm_drift';
  const member = `/api/crm/card/${crm}/member`;
  let dashWorker: AppProcess | undefined;

  beforeAll(async () => {
    s = await Suite.start({
      name: 'dashboard_drift',
      services: ['card-service'],
      controlClock: true,
      env: { EXPIRY_SWEEP_MS: '300', PRESENT_TIMEOUT_HOURS: '24', OUTBOX_POLL_MS: '50', QUEUE_LOCK_MS: '1500', DASHBOARD_BATCH_MAX: '50' },
    });
    s.spawn('dashboard-service', { ROLE: 'api' });
    dashWorker = s.spawn('dashboard-service', { ROLE: 'worker' });
    await s.waitForInstances('dashboard-service', 2);
    queue = new Bull(Queue.CARD_EVENTS, s.redisUrl, { prefix: 'loyalty' });
  });
  afterAll(async () => {
    await queue?.close();
    await s?.stop();
  });

  const createCard = (title: string, over: Record<string, unknown> = {}) => s.createStockedCard(crm, { title, total_quantity: 300, ...over });

  /**
   * Copies of the batches waiting in the queue added again under other job ids, newest
   * first: each whole, and overlapping batches (the second half of a batch with the first
   * half of the next, sharing events with both) each with its events in reverse order.
   */
  async function duplicateWaiting(): Promise<number> {
    const jobs = (await queue.getJobs(['waiting', 'delayed'], 0, -1)).reverse();
    const opts = (jobId: string) => ({ jobId, removeOnComplete: true, attempts: 5 });
    const copies = jobs.map((j) => ({ data: j.data, opts: opts(`dup.${j.id}`) }));
    jobs.forEach((j, i) => {
      const next = jobs[i + 1];
      if (!next || next.data.crm_id !== j.data.crm_id) return;
      const a = j.data.events;
      const b = next.data.events;
      const events = [...a.slice(Math.floor(a.length / 2)), ...b.slice(0, Math.ceil(b.length / 2))].reverse();
      copies.push({ data: { crm_id: j.data.crm_id, events }, opts: opts(`overlap.${j.id}.${next.id}`) });
    });
    if (copies.length) await queue.addBulk(copies);
    return copies.length;
  }

  it('after everything is applied, the rebuild from card-service finds no difference', async () => {
    const rnd = prng(20261126);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
    const cards = [await createCard('漂移券 A'), await createCard('漂移券 B'), await createCard('漂移券 C')];
    // Codes of this card end the day after they are claimed: the expiry sweep takes the unused ones.
    const shortLived = await createCard('短期券', { date_type: 2, start_day_count: 0, expire_day_count: 1 });
    const allCards = [...cards, shortLived];
    const members = Array.from({ length: 12 }, (_, i) => `dm${i}`);
    const channels = ['mini_app', 'kiosk', 'wechat_mp'];
    const stores = ['store_01', 'store_02'];

    /** Codes a member holds and may use, as the test believes (a refusal just means it was wrong: no event). */
    const held: Array<{ member: string; card: string; code: string }> = [];
    const claims: string[] = [];
    const redeems: string[] = [];
    const counts = { ok: 0, refused: 0 };
    const note = (code: number) => (code === 0 ? counts.ok++ : counts.refused++);

    async function act(): Promise<void> {
      const r = rnd();
      if (r < 0.4 || !held.length) {
        const m = pick(members);
        const chosen = [...new Set([pick(allCards), pick(allCards)])];
        const rid = uid('rcv');
        const res = await s.post(`${member}/receive`, {
          received_id: rid,
          member_no: m,
          out_str: pick(channels),
          card_info: Object.fromEntries(chosen.map((c) => [c, 1 + Math.floor(rnd() * 3)])),
        });
        note(res.body.code);
        if (res.body.code === 0) {
          claims.push(rid);
          for (const c of res.body.data) held.push({ member: m, card: c.card_id, code: c.card_code });
        }
      } else if (r < 0.5 && claims.length) {
        note((await s.post(`${member}/receive_reverse`, { received_id: claims.splice(Math.floor(rnd() * claims.length), 1)[0] })).body.code);
      } else if (r < 0.65) {
        const h = held.splice(Math.floor(rnd() * held.length), 1)[0];
        const pid = uid('gift');
        const res = await s.post(`${member}/present`, { member_no: h.member, card_id: h.card, card_code: h.code, presant_extra: '送你', present_id: pid });
        note(res.body.code);
        // Half the gifts are accepted; the others go back to the giver by the sweep once the clock has moved a day.
        if (res.body.code === 0 && rnd() < 0.5) {
          const friend = pick(members.filter((x) => x !== h.member));
          const got = await s.post(`${member}/present_receive`, { member_no: friend, present_id: pid });
          note(got.body.code);
          if (got.body.code === 0) held.push({ member: friend, card: h.card, code: got.body.data.card_code ?? h.code });
        }
      } else if (r < 0.85) {
        const h = held.splice(Math.floor(rnd() * held.length), 1)[0];
        const rid = uid('rdm');
        const res = await s.post(`${member}/redeem`, {
          member_no: h.member,
          card_id: h.card,
          card_code: h.code,
          redeem_channel: pick(stores),
          redeem_id: rid,
          redeem_extra: '',
        });
        note(res.body.code);
        if (res.body.code === 0) redeems.push(rid);
      } else if (r < 0.95 && redeems.length) {
        note((await s.post(`${member}/redeem_reverse`, { redeem_id: redeems.splice(Math.floor(rnd() * redeems.length), 1)[0] })).body.code);
      } else {
        const h = held.splice(Math.floor(rnd() * held.length), 1)[0];
        note((await s.post(`${member}/obsolete`, { member_no: h.member, card_id: h.card, card_code: h.code, operator: 'ops' })).body.code);
      }
    }

    for (let day = 0; day < 4; day++) {
      await s.setClock(day * DAY + 2 * HOUR);
      for (let round = 0; round < 8; round++) await Promise.all(Array.from({ length: 5 }, () => act()));
      if (day === 1) {
        // The worker dies mid-stream; events pile up, copies of them are queued again newest first, then a new worker starts.
        await dashWorker!.kill('SIGKILL');
        for (let round = 0; round < 4; round++) await Promise.all(Array.from({ length: 5 }, () => act()));
        await s.eventually('events waiting for a worker', async () => ((await queue.getWaitingCount()) > 0 ? true : undefined), 20_000, 50);
        expect(await duplicateWaiting()).toBeGreaterThan(0);
        dashWorker = s.spawn('dashboard-service', { ROLE: 'worker' });
      }
      if (day === 2) await duplicateWaiting();
    }
    // A day and a bit later: the sweeps expire the short-lived codes and send unaccepted gifts back.
    await s.setClock(5 * DAY + 4 * HOUR);
    await s.eventually(
      'the sweeps',
      async () => {
        const [{ n }] = await s.sql(`SELECT count(*)::int AS n FROM card.member_present WHERE crm_id = $1 AND received_time IS NULL AND go_back_time IS NULL`, [
          crm,
        ]);
        return n === 0 ? true : undefined;
      },
      30_000,
    );
    expect(counts.ok).toBeGreaterThan(100);

    // Everything relayed and applied.
    await s.eventually(
      'the outbox relayed and the queue drained',
      async () => {
        const [{ n }] = await s.sql(`SELECT count(*)::int AS n FROM card.outbox WHERE relayed_at IS NULL`);
        const c = await queue.getJobCounts();
        return n === 0 && c.waiting === 0 && c.active === 0 && c.delayed === 0 && c.failed === 0 ? true : undefined;
      },
      60_000,
      100,
    );
    const check = await s.dashboardRebuild('--crm-id', crm);
    expect(check.err).toBe('');
    expect(check.out).toMatch(/no difference$/m);
    expect(check.code).toBe(0);
    // Not a vacuous comparison: every kind of change happened and was counted.
    const [totals] = await s.sql(
      `SELECT sum(claim_num)::int AS claims, sum(claim_reverse_num)::int AS claim_reversals, sum(redeem_num)::int AS redeems,
              sum(redeem_reverse_num)::int AS redeem_reversals, sum(present_num)::int AS gifts, sum(accept_num)::int AS accepts,
              sum(return_num)::int AS returns, sum(expire_num)::int AS expiries, sum(void_num)::int AS voids
         FROM dashboard.card_day WHERE crm_id = $1`,
      [crm],
    );
    for (const [k, v] of Object.entries(totals)) expect([k, typeof v === 'number' && v > 0]).toEqual([k, true]);
  });
});
