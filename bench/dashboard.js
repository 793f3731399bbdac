#!/usr/bin/env node
'use strict';
/**
 * bench:dashboard — the coupon dashboard of one big tenant: the three routes over a 90-day
 * range, the rate at which card events are applied to the rollups, and how soon an event
 * reaches the dashboard under a steady flow; each against its PostgreSQL floor.
 *
 *   node bench/dashboard.js [--events N] [--days N] [--cards N] [--members N] [--range-days N]
 *                           [--requests N] [--connections N] [--apply-events N]
 *                           [--steady-rate N] [--steady-seconds N]
 *   (npm run bench:dashboard builds dist first, then runs this)
 *   CI smoke: node bench/dashboard.js --events 50000 --members 5000 --requests 100 --apply-events 5000 --steady-seconds 3
 *
 * What it does, in order:
 *   1. drops and creates the database `bench_dashboard`, flushes Redis logical db 10;
 *   2. boots the gateway and dashboard-service (default role: api + worker) from dist/,
 *      waits until /health reports the dashboard up (its migrations run on boot), and
 *      issues an admin key of the tenant with the root key;
 *   3. seed (not part of any figure but the floor of the apply rate): --events facts
 *      staged in dashboard.rebuild_event by generate_series SQL, in chunks: 60% claims
 *      (1-3 codes, one of 6 out_str channels), 40% redemptions (1 code, one of 10
 *      stores), a card among --cards (skewed: card i drawn as floor(cards * u^1.5), so the
 *      top lists mean something), a member among --members, occurred_at = day_of = a
 *      uniform instant in the --days Asia/Shanghai days before today (today stays
 *      fresh for step 6). Then the set-based builder
 *      (`main.js rebuild --crm-id X --source staged --apply`) builds the rollups from them
 *      as a child process, timed: **the floor of the apply rate** (the same events turned
 *      into the same rollups by PostgreSQL alone, set-based). Then VACUUM ANALYZE of the
 *      rollups (what autovacuum would do after such a load; the CI server runs without it);
 *   4. routes (apps otherwise idle): card_trend (all cards), card_trend with a card_id (a
 *      random card per request), card_channel and card_top (limit 10), each over the
 *      --range-days days ending today (Shanghai): --requests GETs, --connections at once
 *      (plain fetch from a small pool in this process), after a short warm-up. Every
 *      answer must be code 0 and sane (tdate = the range's days, every list aligned with
 *      it, totals = sums of the lists, top lists sorted and at most 10). **Route floor**:
 *      before each route, the same statements the route runs (SQL below, copied from
 *      RollupRepository), directly in PostgreSQL through a pg Pool of DB_POOL_SIZE, the
 *      same --connections requests at once, the same number;
 *   5. apply rate: --apply-events new card events (same distribution, unique event_ids)
 *      added to the `card-events` Bull queue (prefix `loyalty`) as card-service's outbox
 *      relay adds them: passes of 1,000 events, each one addBulk of jobs of at most 500
 *      events of the tenant (CardEventBatch, the relay's job ids and options), as fast as
 *      this process can; events/s = events / (first add .. the queue empty of waiting,
 *      active and delayed jobs: a job completes only after all its events committed);
 *   6. latency under load: --steady-rate events/s for --steady-seconds, occurred_at =
 *      day_of = the moment each is built (today: a day no earlier event touched); every
 *      ~50 ms (a relay polling) what accumulated is added as one pass (jobs of at most
 *      500), then until all are applied; latency = applied_event.applied_at - occurred_at
 *      in SQL (applied_at is the batch transaction's start, so this is a lower bound) and,
 *      as the upper bound, the moment this process hears the event's job completed (Redis
 *      pub/sub of Bull's completed channel, published after the commit) - occurred_at;
 *   7. invariants: the run's queued events staged too, then the builder compares its
 *      rollups of every staged fact with the live ones (`rebuild --source staged`, no
 *      --apply): no difference; every event sent applied once; no failed job; every route
 *      answer code 0 and sane, and the all-cards trend total equal to the floor's;
 *   8. summary and a RESULT line; exit 1 if an invariant fails, 2 on error. The children
 *      are stopped in every case.
 *
 * Targets (issue): route p99 < 50 ms end to end; apply >= 5,000 events/s; an event on the
 * dashboard within 2 s at p99 under load.
 *
 * Environment: BENCH_PG_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres),
 * BENCH_REDIS_URL (default redis://127.0.0.1:6379). DB_POOL_SIZE (default 10),
 * DASHBOARD_BATCH_MAX, DASHBOARD_LANES and LOG_LEVEL are passed to the apps (and the builder) when set.
 */
const { createHash, randomBytes } = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Client, Pool } = require('pg');
const Bull = require('bull');
const Redis = require('ioredis');
const lib = require('./lib');
const seed = require('./dashboard-seed');

const { appEnv, waitForHealth, sleep, now, fmt, secs, freePort, sha, fmtCpu, spawnApp, isGone, pgSettings, call } = lib;
const { DAY_MS, CLAIM_SHARE, CARD_SKEW, CLAIM_CHANNELS, STORES, NO_NEXT_DAY, shanghaiDay, shanghaiTodayStart, addDays, cardId, cardTitle } = seed;
const DB_NAME = 'bench_dashboard';
const REDIS_DB = 10;
const CRM_ID = 'crm_bench_dash';
const DATABASE_URL = lib.databaseUrl(DB_NAME);
const REDIS_URL = lib.redisUrl(REDIS_DB);
const TARGET = { routeP99Ms: 50, eventsPerS: 5_000, latencyP99Ms: 2_000 };

// The tenant's distribution, its seed SQL, the builder as a child process and the Shanghai
// day helpers live in bench/dashboard-seed.js (bench/console.js seeds the same tenant).
/** Events one relay pass moves (RELAY_BATCH, apps/card-service/src/outbox/outbox.relay.ts): keep in step. */
const ADD_CHUNK = 1_000;
/** Events per job at most (CARD_EVENTS_PER_JOB, libs/domain/src/contracts/card-events.ts): keep in step. */
const EVENTS_PER_JOB = 500;
/** The steady phase adds what accumulated every this many ms, as a relay polling would. */
const STEADY_TICK_MS = 50;
const TOP_LIMIT = 10;
/** Requests per route (and per floor) before the measured ones, not counted. */
const WARMUP = 20;
/** The queue, as libs/domain/src/contracts/queues.ts (Queue.CARD_EVENTS) and the apps' Bull prefix. */
const QUEUE = 'card-events';
const BULL_PREFIX = 'loyalty';
/**
 * The job options of card-service's OutboxRelay (apps/card-service/src/outbox/outbox.relay.ts, JOB_OPTIONS): keep in step,
 * but for removeOnComplete: the relay keeps a completed job until its recheck has seen it (seconds); the bench has no
 * recheck, and keeping its 5,000,000 events in Redis would measure memory, not the apply.
 */
const JOB_OPTIONS = { removeOnComplete: true, removeOnFail: false, attempts: 12, backoff: { type: 'exponential', delay: 1_000 } };
/** cardEventBatchJobId (libs/domain/src/contracts/card-events.ts): keep in step. */
const batchJobId = (b) => {
  const ids = b.events.map((e) => e.event_id);
  return `${b.crm_id}.${ids[0]}-${ids[ids.length - 1]}.${createHash('sha1').update(ids.join(',')).digest('hex').slice(0, 12)}`;
};
/** cardEventBatches (libs/domain/src/contracts/card-events.ts): one pass's events by tenant, in jobs of at most EVENTS_PER_JOB. */
function batchesOf(events) {
  const byTenant = new Map();
  for (const e of events) {
    if (!byTenant.has(e.crm_id)) byTenant.set(e.crm_id, []);
    byTenant.get(e.crm_id).push(e);
  }
  const out = [];
  for (const [crm_id, list] of byTenant) for (let i = 0; i < list.length; i += EVENTS_PER_JOB) out.push({ crm_id, events: list.slice(i, i + EVENTS_PER_JOB) });
  return out;
}
/** No progress for this long while waiting for the queue to drain is an error. */
const STALL_MS = 120_000;

// ---------- options ----------

const USAGE =
  'usage: node bench/dashboard.js [--events N] [--days N] [--cards N] [--members N] [--range-days N] [--requests N] ' +
  '[--connections N] [--apply-events N] [--steady-rate N] [--steady-seconds N]';

function parseArgs(argv) {
  const opts = lib.parseOptions(argv, {
    usage: USAGE,
    defaults: {
      events: 5_000_000,
      days: 180,
      cards: 200,
      members: 200_000,
      rangeDays: 90,
      requests: 1_000,
      connections: 8,
      applyEvents: 200_000,
      steadyRate: 2_000,
      steadySeconds: 15,
    },
    flags: {
      '--events': 'events',
      '--days': 'days',
      '--cards': 'cards',
      '--members': 'members',
      '--range-days': 'rangeDays',
      '--requests': 'requests',
      '--connections': 'connections',
      '--apply-events': 'applyEvents',
      '--steady-rate': 'steadyRate',
      '--steady-seconds': 'steadySeconds',
    },
  });
  if (opts.rangeDays > 366) throw new Error("--range-days is at most 366 (the routes' limit)");
  if (opts.days > 3_650) throw new Error('--days is at most 3,650');
  if (opts.cards > 100_000) throw new Error('--cards is at most 100,000');
  if (opts.connections > opts.requests) throw new Error('--connections cannot be more than --requests');
  return opts;
}

// ---------- shared helpers (bench/lib.js), bound to this run's database ----------

const cpuSnapshot = (db, named) => lib.cpuSnapshot(db, DB_NAME, named);
lib.stopOnSignals();

const { percentiles, ms } = lib;
const latLine = (l) => `p50 ${ms(l.p50)}  p95 ${ms(l.p95)}  p99 ${ms(l.p99)}  max ${ms(l.max)}`;

// ---------- the workload: cards, events ----------

/**
 * A card event as card-service would send it: claim (60%, 1-3 codes, an out_str channel)
 * or redeem (1 code, a store), a skewed card, a random member; `at` (ISO) is both
 * occurred_at and day_of.
 */
function drawEvent(opts, cardIds, eventId, at) {
  const claim = Math.random() < CLAIM_SHARE;
  const card = Math.floor(opts.cards * Math.random() ** CARD_SKEW);
  return {
    crm_id: CRM_ID,
    event_id: eventId,
    kind: claim ? 'claim' : 'redeem',
    card_id: cardIds[card],
    title: cardTitle(card),
    member_no: `m${Math.floor(Math.random() * opts.members)}`,
    count: claim ? 1 + Math.floor(Math.random() * 3) : 1,
    channel: claim ? CLAIM_CHANNELS[Math.floor(Math.random() * CLAIM_CHANNELS.length)] : STORES[Math.floor(Math.random() * STORES.length)],
    occurred_at: at,
    day_of: at,
    ref: `r-${eventId}`,
  };
}

/** RollupBuilder.stage's statement (apps/dashboard-service/src/rebuild/rollup.builder.ts): the run's queued events staged as facts. */
async function stageEvents(db, events) {
  for (let i = 0; i < events.length; i += 10_000) {
    const part = events.slice(i, i + 10_000);
    const col = (k) => part.map((e) => e[k]);
    await db.query(
      `INSERT INTO dashboard.rebuild_event (crm_id, kind, card_id, title, member_no, count, channel, occurred_at, day_of)
       SELECT $1, f.* FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[], $8::timestamptz[], $9::timestamptz[])
         AS f(kind, card_id, title, member_no, count, channel, occurred_at, day_of)`,
      [CRM_ID, col('kind'), col('card_id'), col('title'), col('member_no'), col('count'), col('channel'), col('occurred_at'), col('day_of')],
    );
  }
}

// ---------- the builder (dashboard:rebuild) as a child process ----------

/** `node dist/apps/dashboard-service/main.js rebuild --crm-id X --source staged [--apply]`: exit code, output, wall ms. */
const rebuildCli = (env, logDir, label, ...args) => seed.rebuildCli({ env, logDir, crmId: CRM_ID }, label, ...args);

// ---------- the routes and their floor ----------

/** The statements of the dashboard's reads, the routes' own (checked by a unit test against RollupRepository's). */
const { SQL } = require('./sql/dashboard-reads');

/**
 * The four routes measured: the query string of a request, what the service's statements
 * are for it (DashboardService: trend runs one statement, top its two one after
 * the other), and what a sane answer looks like.
 */
function routes(opts, cardIds, range) {
  const randomCard = () => cardIds[Math.floor(Math.random() * cardIds.length)];
  const base = `start_date=${range.start}&end_date=${range.end}`;
  const p = (card) => (card ? [CRM_ID, range.start, range.end, card] : [CRM_ID, range.start, range.end]);
  const trendFloor = (pool, card) =>
    pool.query(SQL.trend(!!card), [CRM_ID, range.start, range.end, card || '', NO_NEXT_DAY]).then(({ rows }) => ({
      claims: rows.filter((r) => r.kind === 'day').reduce((a, r) => a + Number(r.a), 0),
      claimMembers: Number((rows.find((r) => r.kind === 'claim' && r.day === null) || { a: 0 }).a),
    }));
  return [
    {
      name: 'card_trend',
      label: 'card_trend (all cards)',
      draw: () => ({ query: base }),
      floor: (pool) => trendFloor(pool, null),
      check: (d) => checkTrend(d, range.days),
    },
    {
      name: 'card_trend_card',
      label: 'card_trend (card_id)',
      draw: () => {
        const card = randomCard();
        return { query: `${base}&card_id=${card}`, card };
      },
      floor: (pool, req) => trendFloor(pool, req.card),
      check: (d) => checkTrend(d, range.days),
      route: 'card_trend',
    },
    {
      name: 'card_channel',
      label: 'card_channel (all cards)',
      draw: () => ({ query: base }),
      floor: (pool) => pool.query(SQL.channelCounts(false), p(null)),
      check: checkChannel,
    },
    {
      name: 'card_top',
      label: `card_top (limit ${TOP_LIMIT})`,
      draw: () => ({ query: `${base}&limit=${TOP_LIMIT}` }),
      floor: async (pool) => {
        const rows = (await pool.query(SQL.top, [CRM_ID, range.start, range.end, TOP_LIMIT])).rows;
        if (rows.length) await pool.query(SQL.titles, [CRM_ID, [...new Set(rows.map((r) => r.card_id))]]);
      },
      check: checkTop,
    },
  ];
}

const isCount = (v) => Number.isInteger(v) && v >= 0;
const sum = (xs) => xs.reduce((a, b) => a + b, 0);

/** A card_trend answer: every list aligned with tdate (the range's days, in order), totals = sums, members within bounds. */
function checkTrend(d, days) {
  if (!Array.isArray(d.tdate) || d.tdate.length !== days.length) return `tdate has ${d.tdate && d.tdate.length} days, not ${days.length}`;
  if (d.tdate.some((t, i) => t !== days[i])) return `tdate is not ${days[0]}..${days[days.length - 1]}`;
  for (const k of ['receive', 'redeem', 'present']) {
    const nums = d[`${k}_num_list`];
    const members = d[`${k}_member_num_list`];
    if (!Array.isArray(nums) || nums.length !== days.length || !nums.every(isCount)) return `${k}_num_list is not ${days.length} counts`;
    if (!Array.isArray(members) || members.length !== days.length || !members.every(isCount)) return `${k}_member_num_list is not ${days.length} counts`;
    if (d[`${k}_num`] !== sum(nums)) return `${k}_num ${d[`${k}_num`]} is not the sum of its list`;
    if (members.some((m, i) => m > nums[i])) return `${k}: more members than codes on a day`;
    const total = d[`${k}_member_num`];
    if (!isCount(total) || total > sum(members) || total < Math.max(0, ...members)) return `${k}_member_num ${total} out of bounds`;
  }
  return null;
}

function checkChannel(d) {
  for (const [list, field] of [
    ['receive_channel_list', 'receive_num'],
    ['redeem_channel_list', 'redeem_num'],
  ]) {
    const l = d[list];
    if (!Array.isArray(l) || !l.length) return `${list} is empty`;
    if (!l.every((c) => typeof c.channel_name === 'string' && Number.isInteger(c[field]) && c[field] > 0)) return `${list} has a bad entry`;
    if (l.some((c, i) => i && c[field] > l[i - 1][field])) return `${list} is not largest first`;
  }
  return null;
}

function checkTop(d) {
  for (const [list, field] of [
    ['receive_top', 'receive_num'],
    ['redeem_top', 'redeem_num'],
  ]) {
    const l = d[list];
    if (!Array.isArray(l) || !l.length || l.length > TOP_LIMIT) return `${list} has ${l && l.length} cards`;
    if (!l.every((c) => /^[0-9a-f]{32}$/.test(c.card_id) && /^Bench coupon \d+$/.test(c.title) && Number.isInteger(c[field]) && c[field] > 0))
      return `${list} has a bad entry`;
    if (l.some((c, i) => i && c[field] > l[i - 1][field])) return `${list} is not largest first`;
  }
  return null;
}

/** `n` calls of `fn(i)`, `conc` at once: latency of each (ms), errors, wall time. */
async function runPool(n, conc, fn) {
  const lat = new Float64Array(n);
  let next = 0;
  let errors = 0;
  let firstError = null;
  const t0 = now();
  await Promise.all(
    Array.from({ length: conc }, async () => {
      for (let i = next++; i < n; i = next++) {
        const t = now();
        try {
          await fn(i);
        } catch (err) {
          errors++;
          if (!firstError) firstError = err.message || String(err);
        }
        lat[i] = now() - t;
      }
    }),
  );
  return { wallMs: now() - t0, latency: percentiles(lat), errors, firstError };
}

/** One route: its floor (statements in PostgreSQL), then the same number of GETs through the gateway. */
async function measureRoute(r, opts, ctx) {
  const reqs = Array.from({ length: opts.requests }, () => r.draw());
  const warm = Array.from({ length: Math.min(WARMUP, opts.requests) }, () => r.draw());
  await runPool(warm.length, Math.min(opts.connections, warm.length), (i) => r.floor(ctx.pool, warm[i]));
  const floor = await runPool(reqs.length, opts.connections, (i) => r.floor(ctx.pool, reqs[i]));

  const urlOf = (q) => `${ctx.base}/api/crm/dashbord/${CRM_ID}/${r.route || r.name}?${q.query}`;
  const headers = { authorization: `Bearer ${ctx.key}` };
  const bad = { count: 0, first: null };
  const answers = [];
  const get = async (q, keep) => {
    const res = await fetch(urlOf(q), { headers });
    const text = await res.text();
    let body = null;
    try {
      body = JSON.parse(text);
    } catch {
      /* counted below */
    }
    const problem = !body
      ? `HTTP ${res.status}, not JSON: ${text.slice(0, 200)}`
      : res.status !== 200 || body.code !== 0
        ? `HTTP ${res.status} code ${body.code}: ${text.slice(0, 300)}`
        : r.check(body.data);
    if (problem) {
      bad.count++;
      if (!bad.first) bad.first = `${q.query}: ${problem}`;
    } else if (keep && answers.length < 1) answers.push({ q, data: body.data });
  };
  await runPool(warm.length, Math.min(opts.connections, warm.length), (i) => get(warm[i], false));
  const load = await runPool(reqs.length, opts.connections, (i) => get(reqs[i], true));
  return { floor, load, bad, answer: answers[0] || null };
}

// ---------- the queue ----------

/** Waits until the queue holds no waiting, active or delayed job; answers its counts then. Fails on an app's death or a long stall. */
async function drained(queue, procs, onTick) {
  let last = null;
  let lastChange = Date.now();
  for (;;) {
    for (const p of procs) if (isGone(p)) throw new Error(`${p.app} died while events were applied; see ${p.logFile}`);
    const c = await queue.getJobCounts();
    const left = c.waiting + c.active + c.delayed;
    if (left === 0) return c;
    if (left !== last) {
      last = left;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > STALL_MS) {
      throw new Error(`the card-events queue made no progress for ${STALL_MS / 1000} s: ${JSON.stringify(c)}`);
    }
    if (onTick) await onTick(c);
    await sleep(50);
  }
}

/** One relay pass: the events in jobs of one tenant (at most EVENTS_PER_JOB each), one addBulk; answers the jobs' ids, in order. */
async function addPass(queue, events) {
  const jobs = batchesOf(events).map((b) => ({ data: b, opts: { ...JOB_OPTIONS, jobId: batchJobId(b) } }));
  await queue.addBulk(jobs);
  return jobs.map((j) => j.opts.jobId);
}

async function redisPid(url) {
  const r = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    const m = /process_id:(\d+)/.exec(await r.info('server'));
    return m ? Number(m[1]) : null;
  } finally {
    r.disconnect();
  }
}

// ---------- main ----------

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-dashboard-'));
  const rootKey = `root-${randomBytes(12).toString('hex')}`;
  const runTag = `b${randomBytes(4).toString('hex')}`;
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const startedAt = new Date();
  const cardIds = Array.from({ length: opts.cards }, (_v, i) => cardId(i));

  console.log(
    `bench:dashboard  events=${fmt(opts.events)}  days=${opts.days}  cards=${fmt(opts.cards)}  members=${fmt(opts.members)}  range=${opts.rangeDays} d  ` +
      `requests=${fmt(opts.requests)}/route  connections=${opts.connections}  apply events=${fmt(opts.applyEvents)}  ` +
      `steady=${fmt(opts.steadyRate)}/s x ${opts.steadySeconds} s  db=${DB_NAME}  redis db=${REDIS_DB}`,
  );
  console.log(lib.machineLine());
  console.log(`logs: ${logDir}`);

  await lib.resetStores(DB_NAME, REDIS_URL);
  const pass = (name) => (process.env[name] ? { [name]: process.env[name] } : {});
  const env = appEnv(
    { databaseUrl: DATABASE_URL, redisUrl: REDIS_URL, rootKey, port },
    {
      ...pass('DB_POOL_SIZE'),
      ...pass('DASHBOARD_BATCH_MAX'),
      ...pass('DASHBOARD_LANES'),
      ...pass('LOG_LEVEL'),
    },
  );
  const gateway = spawnApp('gateway', env, logDir);
  const dashboard = spawnApp('dashboard-service', env, logDir);
  const procs = [gateway, dashboard];
  console.log(`dist: gateway ${sha(gateway.main)}, dashboard-service ${sha(dashboard.main)} (sha256 prefix of main.js)`);
  const bootT0 = now();
  await waitForHealth(base, procs, 90_000, { service: 'dashboard', instances: 1 });
  console.log(`apps up in ${secs(now() - bootT0)} (${procs.map((p) => `${p.app} pid ${p.child.pid}`).join(', ')})`);
  const issued = await call(base, rootKey, 'POST', `/api/crm/keys/${CRM_ID}`, { scope: 'admin' });
  if (issued.status !== 200 || issued.body.code !== 0) throw new Error(`issuing an admin key answered HTTP ${issued.status}: ${JSON.stringify(issued.body)}`);
  const adminKey = issued.body.data.key;

  const db = new Client({ connectionString: DATABASE_URL, application_name: 'bench-dashboard' });
  await db.connect();
  const pool = new Pool({ connectionString: DATABASE_URL, max: Number(env.DB_POOL_SIZE), application_name: 'bench-dashboard-floor', options: '-c jit=off' }); // the apps' session settings (libs/platform/src/database.ts)
  const queue = new Bull(QUEUE, REDIS_URL, { prefix: BULL_PREFIX });
  const sub = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    const settings = await pgSettings(db, ['autovacuum', 'work_mem']);
    const pgVersion = (await db.query('SHOW server_version')).rows[0].server_version;
    const rPid = await redisPid(REDIS_URL);
    const named = [
      { pid: process.pid, group: 'bench' },
      ...procs.map((p) => ({ pid: p.child.pid, group: p.app })),
      ...(rPid ? [{ pid: rPid, group: 'redis' }] : []),
    ];

    // ---- 1. seed: facts staged by SQL, then the set-based builder (the floor of the apply rate)
    const todayStart = shanghaiTodayStart();
    const seedFrom = todayStart - opts.days * DAY_MS;
    const seedT0 = now();
    await seed.stageSeed(db, { crmId: CRM_ID, events: opts.events, cards: opts.cards, members: opts.members, days: opts.days, from: seedFrom }, (done) =>
      console.log(`seed: ${fmt(done)} / ${fmt(opts.events)} facts staged (${secs(now() - seedT0)})`),
    );
    const seedMs = now() - seedT0;
    const mix = (
      await db.query(
        `SELECT kind, count(*)::bigint AS n, sum(count)::bigint AS codes FROM dashboard.rebuild_event WHERE crm_id = $1 GROUP BY kind ORDER BY kind`,
        [CRM_ID],
      )
    ).rows;
    console.log(
      `seed: ${mix.map((r) => `${r.kind} ${fmt(Number(r.n))} (${fmt(Number(r.codes))} codes)`).join(', ')}; days ${shanghaiDay(seedFrom)}..${shanghaiDay(todayStart - 1)} (Shanghai)`,
    );

    await db.query('CHECKPOINT');
    process.stdout.write(`build: rebuild --source staged --apply of ${fmt(opts.events)} facts (set-based, PostgreSQL alone) ... `);
    const build = await rebuildCli(env, logDir, 'rebuild-apply', '--apply');
    if (build.code !== 0) throw new Error(`the builder (--apply) exited with ${build.code ?? build.signal}:\n${build.out}\n${build.err}`);
    const floorFactsPerS = opts.events / (build.wallMs / 1000);
    console.log(`${secs(build.wallMs)} (its own count: ${build.ownMs === null ? 'n/a' : secs(build.ownMs)}) -> floor ${fmt(floorFactsPerS)} facts/s`);
    const tables = seed.ROLLUP_TABLES;
    const vacT0 = now();
    await seed.vacuumRollups(db);
    const rowCounts = {};
    for (const t of tables) rowCounts[t] = Number((await db.query(`SELECT count(*)::bigint AS n FROM dashboard.${t} WHERE crm_id = $1`, [CRM_ID])).rows[0].n);
    console.log(`rollups: ${tables.map((t) => `${t} ${fmt(rowCounts[t])}`).join(', ')} rows (VACUUM ANALYZE ${secs(now() - vacT0)})`);
    await db.query('CHECKPOINT');

    // ---- 2. routes, each after its floor
    const today = shanghaiDay(Date.now());
    const range = { start: addDays(today, -(opts.rangeDays - 1)), end: today };
    range.days = Array.from({ length: opts.rangeDays }, (_v, i) => addDays(range.start, i));
    console.log(
      `routes: ${range.start}..${range.end} (${opts.rangeDays} days), ${fmt(opts.requests)} requests each, ${opts.connections} at once, after ${WARMUP} warm-up; floor first (pg Pool of ${env.DB_POOL_SIZE})`,
    );
    const routeResults = [];
    for (const r of routes(opts, cardIds, range)) {
      const res = await measureRoute(r, opts, { pool, base, key: adminKey });
      routeResults.push({ r, ...res });
      console.log(
        `  ${r.label.padEnd(26)} end to end ${latLine(res.load.latency)} ms  (${fmt(opts.requests / (res.load.wallMs / 1000))} req/s, ${res.load.errors} errors, ${res.bad.count} bad)` +
          `\n  ${''.padEnd(26)} floor      ${latLine(res.floor.latency)} ms  (${fmt(opts.requests / (res.floor.wallMs / 1000))} req/s, ${res.floor.errors} errors)`,
      );
      if (res.bad.first) console.log(`    first bad answer: ${res.bad.first}`);
      if (res.load.firstError) console.log(`    first error: ${res.load.firstError}`);
      if (res.floor.firstError) console.log(`    first floor error: ${res.floor.firstError}`);
    }
    // The all-cards trend agrees with its statements run directly (nothing changes the rollups meanwhile).
    const trendTruth = await routes(opts, cardIds, range)[0].floor(pool);
    const trendAnswer = routeResults[0].answer && routeResults[0].answer.data;

    // ---- 3. apply rate: events queued as fast as this process can add them
    const applyEvents = Array.from({ length: opts.applyEvents }, (_v, i) =>
      drawEvent(opts, cardIds, `${runTag}-a-${i}`, new Date(seedFrom + Math.random() * opts.days * DAY_MS).toISOString()),
    );
    await db.query('CHECKPOINT');
    console.log(
      `apply: ${fmt(opts.applyEvents)} events to the ${QUEUE} queue, passes of ${fmt(ADD_CHUNK)} (one addBulk of jobs of at most ${EVENTS_PER_JOB}) ...`,
    );
    let cpu = await cpuSnapshot(db, named);
    const applyT0 = now();
    let addedMs = null;
    let applyJobs = 0;
    let lastShown = applyT0;
    const adding = (async () => {
      for (let i = 0; i < applyEvents.length; i += ADD_CHUNK) applyJobs += (await addPass(queue, applyEvents.slice(i, i + ADD_CHUNK))).length;
      addedMs = now() - applyT0;
    })();
    const progress = async () => {
      if (now() - lastShown < 2_000) return;
      lastShown = now();
      const n = Number(
        (await db.query(`SELECT count(*)::bigint AS n FROM dashboard.applied_event WHERE crm_id = $1 AND starts_with(event_id, $2)`, [CRM_ID, `${runTag}-a-`]))
          .rows[0].n,
      );
      console.log(
        `  ${secs(now() - applyT0)}: ${addedMs === null ? 'adding' : `all added in ${secs(addedMs)}`}, ${fmt(n)} applied (${fmt(n / ((now() - applyT0) / 1000))}/s so far)`,
      );
    };
    while (addedMs === null) {
      for (const p of procs) if (isGone(p)) throw new Error(`${p.app} died while events were added; see ${p.logFile}`);
      await Promise.race([adding, sleep(250)]);
      await progress();
    }
    await adding;
    await drained(queue, procs, progress);
    const applyMs = now() - applyT0;
    const applyCpu = await cpu.diff();
    const applyRate = opts.applyEvents / (applyMs / 1000);
    const applyStats = (
      await db.query(
        `SELECT count(*)::bigint AS n, count(DISTINCT applied_at)::bigint AS batches FROM dashboard.applied_event WHERE crm_id = $1 AND starts_with(event_id, $2)`,
        [CRM_ID, `${runTag}-a-`],
      )
    ).rows[0];
    console.log(
      `  ${secs(applyMs)} -> ${fmt(applyRate)} events/s (adds took ${secs(addedMs)}, ${fmt(applyJobs)} jobs; ${fmt(Number(applyStats.batches))} batches, ${fmt(Number(applyStats.n) / Number(applyStats.batches), 0)} events each on average)`,
    );
    console.log(`  CPU s: ${fmtCpu(applyCpu)}`);

    // ---- 4. latency under a steady flow (today: a day no event before touched)
    const prefix = `${CRM_ID}.${runTag}-s-`;
    const seen = new Map(); // jobId -> Date.now() when its completion was published
    const jobOf = new Map(); // event_id -> the id of the job that carried it
    sub.on('message', (_ch, msg) => {
      const t = Date.now();
      try {
        const { jobId } = JSON.parse(msg);
        if (typeof jobId === 'string' && jobId.startsWith(prefix) && !seen.has(jobId)) seen.set(jobId, t);
      } catch {
        /* not ours */
      }
    });
    await sub.subscribe(`${BULL_PREFIX}:${QUEUE}:completed`);
    const steadyTotal = opts.steadyRate * opts.steadySeconds;
    const steadyEvents = [];
    console.log(`steady: ${fmt(opts.steadyRate)} events/s for ${opts.steadySeconds} s (${fmt(steadyTotal)} events, occurred_at = when added) ...`);
    cpu = await cpuSnapshot(db, named);
    const steadyT0 = Date.now();
    let lastTick = steadyT0;
    let steadyJobs = 0;
    while (steadyEvents.length < steadyTotal) {
      for (const p of procs) if (isGone(p)) throw new Error(`${p.app} died during the steady flow; see ${p.logFile}`);
      const due = Math.min(steadyTotal, Math.floor(((Date.now() - steadyT0) / 1000) * opts.steadyRate));
      const batch = [];
      while (steadyEvents.length + batch.length < due) {
        const at = new Date().toISOString();
        batch.push(drawEvent(opts, cardIds, `${runTag}-s-${steadyEvents.length + batch.length}`, at));
      }
      if (batch.length) {
        steadyEvents.push(...batch);
        const ids = await addPass(queue, batch);
        steadyJobs += ids.length;
        batchesOf(batch).forEach((b, i) => b.events.forEach((e) => jobOf.set(e.event_id, ids[i])));
      }
      if (Date.now() - lastTick >= 5_000) {
        lastTick = Date.now();
        console.log(`  ${((Date.now() - steadyT0) / 1000).toFixed(0)} s: ${fmt(steadyEvents.length)} added, ${fmt(seen.size)} jobs heard completed`);
      }
      await sleep(STEADY_TICK_MS);
    }
    const steadyAddMs = Date.now() - steadyT0;
    await drained(queue, procs);
    const steadyCpu = await cpu.diff();
    const waitUntil = Date.now() + 2_000; // the last completions' messages
    while (seen.size < steadyJobs && Date.now() < waitUntil) await sleep(20);
    await sub.unsubscribe();
    const lat = (
      await db.query(
        `SELECT count(a.event_id)::bigint AS n,
              percentile_disc(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM a.applied_at - s.at) * 1000) AS p50,
              percentile_disc(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM a.applied_at - s.at) * 1000) AS p95,
              percentile_disc(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM a.applied_at - s.at) * 1000) AS p99,
              max(extract(epoch FROM a.applied_at - s.at) * 1000) AS max
         FROM unnest($2::text[], $3::timestamptz[]) AS s(event_id, at)
         JOIN dashboard.applied_event a ON a.crm_id = $1 AND a.event_id = s.event_id`,
        [CRM_ID, steadyEvents.map((e) => e.event_id), steadyEvents.map((e) => e.occurred_at)],
      )
    ).rows[0];
    const steadyLat = { n: Number(lat.n), p50: Number(lat.p50), p95: Number(lat.p95), p99: Number(lat.p99), max: Number(lat.max) };
    const heard = (e) => seen.get(jobOf.get(e.event_id));
    const seenLat = percentiles(steadyEvents.filter((e) => heard(e) !== undefined).map((e) => heard(e) - Date.parse(e.occurred_at)));
    console.log(
      `  added in ${secs(steadyAddMs)} (${fmt(steadyTotal / (steadyAddMs / 1000))}/s, ${fmt(steadyJobs)} jobs); applied_at - occurred_at ms: ${latLine(steadyLat)}; completion heard - occurred_at ms: ${latLine(seenLat)} (${fmt(seenLat.n)} heard)`,
    );
    console.log(`  CPU s: ${fmtCpu(steadyCpu)}`);

    // ---- 5. invariants
    console.log(`check: staging the ${fmt(applyEvents.length + steadyEvents.length)} queued events, then rebuild --source staged (compare) of every fact ...`);
    await stageEvents(db, applyEvents);
    await stageEvents(db, steadyEvents);
    await db.query('ANALYZE dashboard.rebuild_event');
    const compare = await rebuildCli(env, logDir, 'rebuild-compare');
    if (compare.code !== 0 && compare.code !== 1)
      throw new Error(`the builder (compare) exited with ${compare.code ?? compare.signal}:\n${compare.out}\n${compare.err}`);
    console.log(
      compare.out
        .trim()
        .split('\n')
        .map((l) => `  ${l}`)
        .slice(0, 20)
        .join('\n'),
    );
    const sent = applyEvents.length + steadyEvents.length;
    const appliedAll = (
      await db.query(
        `SELECT count(*)::bigint AS n, count(*) FILTER (WHERE starts_with(event_id, $2))::bigint AS run FROM dashboard.applied_event WHERE crm_id = $1`,
        [CRM_ID, `${runTag}-`],
      )
    ).rows[0];
    const finalCounts = await queue.getJobCounts();
    const facts = Number((await db.query(`SELECT count(*)::bigint AS n FROM dashboard.rebuild_event WHERE crm_id = $1`, [CRM_ID])).rows[0].n);
    const badAnswers = routeResults.reduce((a, x) => a + x.bad.count + x.load.errors, 0);
    const checks = [
      [
        'the builder finds no difference between the live rollups and every fact staged',
        compare.code === 0,
        `exit ${compare.code}, ${fmt(facts)} facts (seed ${fmt(opts.events)} + queued ${fmt(sent)})`,
      ],
      [
        'every event sent applied once',
        Number(appliedAll.run) === sent && Number(appliedAll.n) === sent,
        `${fmt(Number(appliedAll.run))} of ${fmt(sent)} applied, ${fmt(Number(appliedAll.n))} applied rows in all`,
      ],
      [
        'no failed job, none left',
        finalCounts.failed === 0 && finalCounts.waiting + finalCounts.active + finalCounts.delayed === 0,
        JSON.stringify(finalCounts),
      ],
      ['every route answer code 0 and sane', badAnswers === 0, `${badAnswers} bad or failed of ${fmt(opts.requests * routeResults.length)}`],
      [
        'card_trend totals = its statements run directly',
        !!trendAnswer && trendAnswer.receive_num === trendTruth.claims && trendAnswer.receive_member_num === trendTruth.claimMembers,
        `receive_num ${trendAnswer && trendAnswer.receive_num} vs ${trendTruth.claims}, receive_member_num ${trendAnswer && trendAnswer.receive_member_num} vs ${trendTruth.claimMembers}`,
      ],
    ];
    const invOk = checks.every((c) => c[1]);

    // ---- 6. summary
    const met = (b) => (b ? 'MET' : 'NOT MET');
    const line = (k, v) => console.log(`  ${k.padEnd(34)} ${v}`);
    const perEvent = (used, n) =>
      Object.entries(used)
        .filter(([, v]) => v >= 0.005)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${((v * 1000) / n).toFixed(3)}`)
        .join(', ');
    const routesMet = routeResults.every((x) => x.load.latency.p99 < TARGET.routeP99Ms);
    console.log('');
    console.log('================ bench:dashboard summary ================');
    line('date', startedAt.toISOString());
    line(
      'machine',
      `${os.cpus().length} cores, load ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')} (after), PostgreSQL ${pgVersion}, node ${process.version}`,
    );
    line('postgres settings', settings);
    line(
      'apps',
      `gateway + dashboard-service (api + worker), DB_POOL_SIZE=${env.DB_POOL_SIZE}${env.DASHBOARD_BATCH_MAX ? ` DASHBOARD_BATCH_MAX=${env.DASHBOARD_BATCH_MAX}` : ''}`,
    );
    line(
      'tenant',
      `${fmt(opts.events)} claim/redeem facts over ${opts.days} days, ${fmt(opts.cards)} cards, ${fmt(opts.members)} members (staged in ${secs(seedMs)})`,
    );
    line('rollup rows', tables.map((t) => `${t} ${fmt(rowCounts[t])}`).join(', '));
    line(
      'floor: set-based build',
      `${secs(build.wallMs)} (builder's own ${build.ownMs === null ? 'n/a' : secs(build.ownMs)}) -> ${fmt(floorFactsPerS)} facts/s`,
    );
    line('routes', `${range.start}..${range.end} (${opts.rangeDays} d), ${fmt(opts.requests)} requests each, ${opts.connections} at once; latency ms`);
    for (const x of routeResults) {
      line(`  ${x.r.label}`, `${latLine(x.load.latency)}`);
      line(`    floor (same statements in pg)`, `${latLine(x.floor.latency)}`);
    }
    line(
      'apply',
      `${fmt(opts.applyEvents)} events in ${secs(applyMs)} -> ${fmt(applyRate)} events/s (floor ${fmt(floorFactsPerS)} facts/s, ratio ${(applyRate / floorFactsPerS).toFixed(3)})`,
    );
    line(
      '  batches',
      `${fmt(Number(applyStats.batches))}, ${fmt(Number(applyStats.n) / Number(applyStats.batches), 0)} events each on average; ${fmt(applyJobs)} jobs; adds took ${secs(addedMs)}`,
    );
    line('  CPU s', fmtCpu(applyCpu));
    line('  CPU ms per event', perEvent(applyCpu, opts.applyEvents));
    line(
      'steady flow',
      `${fmt(steadyTotal)} events at ${fmt(steadyTotal / (steadyAddMs / 1000))}/s (asked ${fmt(opts.steadyRate)}/s) in ${fmt(steadyJobs)} jobs (a pass every ~${STEADY_TICK_MS} ms)`,
    );
    line('  applied_at - occurred_at ms', latLine(steadyLat));
    line('  completion heard - occurred_at', `${latLine(seenLat)} (${fmt(seenLat.n)} of ${fmt(steadyTotal)} heard)`);
    line('  CPU ms per event', perEvent(steadyCpu, steadyTotal));
    line(
      'targets',
      `route p99 < ${TARGET.routeP99Ms} ms: ${met(routesMet)}${
        routesMet
          ? ''
          : ` (${routeResults
              .filter((x) => x.load.latency.p99 >= TARGET.routeP99Ms)
              .map((x) => x.r.name)
              .join(', ')})`
      }; ` +
        `apply >= ${fmt(TARGET.eventsPerS)}/s: ${met(applyRate >= TARGET.eventsPerS)}; ` +
        `event on the dashboard p99 <= ${TARGET.latencyP99Ms} ms: ${met(Math.max(steadyLat.p99, seenLat.p99 ?? Infinity) <= TARGET.latencyP99Ms)} (by the upper bound)`,
    );
    for (const [name, ok, detail] of checks) console.log(`    [${ok ? 'ok' : 'FAIL'}] ${name} (${detail})`);
    line('invariants', invOk ? 'HOLD' : 'BROKEN');
    line('logs', logDir);
    console.log('=========================================================');
    const rk = (x) => x.r.name;
    console.log(
      `RESULT events=${opts.events} days=${opts.days} cards=${opts.cards} members=${opts.members} range_days=${opts.rangeDays} requests=${opts.requests} connections=${opts.connections} ` +
        `build_s=${(build.wallMs / 1000).toFixed(1)} floor_facts_per_s=${Math.round(floorFactsPerS)} ` +
        routeResults
          .map(
            (x) =>
              `${rk(x)}_p50_ms=${ms(x.load.latency.p50)} ${rk(x)}_p99_ms=${ms(x.load.latency.p99)} ${rk(x)}_floor_p50_ms=${ms(x.floor.latency.p50)} ${rk(x)}_floor_p99_ms=${ms(x.floor.latency.p99)}`,
          )
          .join(' ') +
        ` apply_events=${opts.applyEvents} apply_events_per_s=${Math.round(applyRate)} steady_events=${steadyTotal} steady_p50_ms=${ms(steadyLat.p50)} steady_p99_ms=${ms(steadyLat.p99)} ` +
        `steady_heard_p99_ms=${ms(seenLat.p99)} route_target=${routesMet ? 'met' : 'not_met'} apply_target=${applyRate >= TARGET.eventsPerS ? 'met' : 'not_met'} ` +
        `latency_target=${Math.max(steadyLat.p99, seenLat.p99 ?? Infinity) <= TARGET.latencyP99Ms ? 'met' : 'not_met'} invariants=${invOk ? 'ok' : 'broken'}`,
    );
    return invOk ? 0 : 1;
  } finally {
    sub.disconnect();
    await queue.close().catch(() => undefined);
    await pool.end().catch(() => undefined);
    await db.end().catch(() => undefined);
  }
}

lib.runMain('bench:dashboard', main);
