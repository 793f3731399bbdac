#!/usr/bin/env node
'use strict';
/**
 * bench:points — a mix of earns and spends over N members through the gateway's HTTP API at
 * high concurrency, against the PostgreSQL floor of the same ledger writes.
 *
 *   node bench/points.js [--members N] [--events N] [--spend-ratio F] [--connections N] [--floor-events N]
 *   (npm run bench:points builds dist first, then runs this)
 *   CI smoke: node bench/points.js --members 500 --events 3000 --floor-events 1500
 *
 * What it does, in order:
 *   1. drops and creates the database `bench_points`, flushes Redis logical db 12;
 *   2. boots the gateway and points-service from dist/ (logs in a temp dir), waits until
 *      /health reports PostgreSQL, Redis and the points service up (points-service's
 *      migrations make the schema before it answers);
 *   3. seeds (not timed), directly in PostgreSQL, for the load's tenant and the floor's:
 *      members m0..m<members-1>, each with an opening earn of SEED_POINTS points (a
 *      journal row seed-m<i>, one lot expiring in 365 days, total_points on the member row);
 *   4. floor (apps idle, after a CHECKPOINT): --floor-events events done directly in
 *      PostgreSQL, one transaction per event, statement by statement as points-service
 *      runs a single event (EventRecorder.record + LedgerRepository; see SQL below), each a named
 *      (prepared) statement, by --connections clients at once; events drawn like the load's;
 *   5. load (after another CHECKPOINT): a second process (bench/points-load.js) runs
 *      autocannon with --connections connections and --events requests: each picks a random
 *      member; with probability --spend-ratio a spend of 1-5 points
 *      (POST /api/crm/points/<crm>/consume/direct), else an earn of 1-10 points with
 *      expire_days 30 (POST .../produce/direct); unique event_no each. Answers are classified
 *      by the envelope's code (0 success, 40908 not enough points: a business refusal,
 *      anything else an error);
 *   6. checks the invariants of both tenants in the database (see checkLedger);
 *   7. prints a summary, stops the children; exit 1 if an invariant fails, 2 on error
 *      (including a load in which no event succeeded: nothing was measured).
 *
 * events/s = (successes + business refusals) / wall time of the load (first request sent to
 * last answer); the floor's the same over its transactions. ratio = end-to-end events/s /
 * floor events/s.
 *
 * Environment: BENCH_PG_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres),
 * BENCH_REDIS_URL (default redis://127.0.0.1:6379). DB_POOL_SIZE (default 10),
 * POINTS_BATCH_MAX, RPC_CONCURRENCY and RPC_TIMEOUT_MS are passed to the apps when set.
 */
const { createHash, randomBytes } = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Client } = require('pg');
const lib = require('./lib');

const { appEnv, runLoad, waitForHealth, now, fmt, secs, freePort, sha, fmtCpu, spawnApp, pgSettings } = lib;
const DB_NAME = 'bench_points';
const REDIS_DB = 12;
const CRM_ID = 'crm_bench';
const FLOOR_CRM_ID = 'crm_bench_floor';
const DATABASE_URL = lib.databaseUrl(DB_NAME);
const REDIS_URL = lib.redisUrl(REDIS_DB);
const SEED_POINTS = 100;
const EXPIRE_DAYS = 30;
const LOAD_TIMEOUT_S = 15; // autocannon's per-request timeout: above the gateway's RPC deadline (10 s), so its own answer is seen
const TARGET = { eventsPerS: 2000, ratio: 1.0 };

// ---------- options ----------

const USAGE = 'usage: node bench/points.js [--members N] [--events N] [--spend-ratio F] [--connections N] [--floor-events N]';

function parseArgs(argv) {
  const opts = lib.parseOptions(argv, {
    usage: USAGE,
    fractions: ['spendRatio'],
    defaults: { members: 10_000, events: 60_000, spendRatio: 0.4, connections: 64, floorEvents: 20_000 },
    flags: {
      '--members': 'members',
      '--events': 'events',
      '--spend-ratio': 'spendRatio',
      '--connections': 'connections',
      '--floor-events': 'floorEvents',
    },
  });
  if (opts.members > 10_000_000) throw new Error('--members is at most 10,000,000');
  if (opts.connections > opts.events) throw new Error('--connections cannot be more than --events');
  if (opts.connections > opts.floorEvents) throw new Error('--connections cannot be more than --floor-events');
  return opts;
}

// ---------- shared helpers (bench/lib.js), bound to this run's database ----------

const cpuSnapshot = (db, named) => lib.cpuSnapshot(db, DB_NAME, named);
const resetStores = () => lib.resetStores(DB_NAME, REDIS_URL);
lib.stopOnSignals();

const { percentiles, ms } = lib;

/**
 * Waits until the gateway's /health reports PostgreSQL, Redis and the points service up
 * (with at least one instance that answers requests). Only gateway + points-service run:
 * /health answers 503 (card, dashboard down); what matters is these.
 */

// ---------- phase 0: the members and their opening earns, directly in PostgreSQL ----------

async function seed(db, members) {
  const crms = [CRM_ID, FLOOR_CRM_ID];
  await db.query('BEGIN');
  try {
    await db.query(
      `INSERT INTO points.member (crm_id, member_no, total_points, create_time, update_time)
       SELECT c, 'm' || i, $3::numeric, now(), now() FROM unnest($1::text[]) AS c, generate_series(0, $2::int - 1) AS i`,
      [crms, members, SEED_POINTS],
    );
    await db.query(
      `INSERT INTO points.event (crm_id, event_no, member_no, event_type, points, event_at, expire_time, action_scene, payload_hash, create_time, update_time)
       SELECT c, 'seed-m' || i, 'm' || i, 'produce', $3, now(), now() + interval '365 days', 'bench_seed', '', now(), now()
         FROM unnest($1::text[]) AS c, generate_series(0, $2::int - 1) AS i`,
      [crms, members, SEED_POINTS],
    );
    await db.query(
      `INSERT INTO points.lot (crm_id, member_no, event_no, amount, remaining, expire_time, create_time)
       SELECT c, 'm' || i, 'seed-m' || i, $3, $3, now() + interval '365 days', now()
         FROM unnest($1::text[]) AS c, generate_series(0, $2::int - 1) AS i`,
      [crms, members, SEED_POINTS],
    );
    await db.query('COMMIT');
  } catch (err) {
    await db.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
  // The CI server runs with autovacuum off: give the planner what autoanalyze would have.
  await db.query('ANALYZE points.member, points.event, points.lot, points.allocation');
}

// ---------- the floor: the ledger writes done directly in PostgreSQL ----------

/**
 * One earn or spend in a transaction of its own, as points-service records a single event:
 * the statements are the ledger's own (bench/sql/points-floor.js, checked against
 * apps/points-service/src/ledger/ledger.sql.ts by a unit test). The service batches earns and
 * spends (EventBatchService); the floor is the same rows written one event at a time.
 */
const { SQL } = require('./sql/points-floor');

/**
 * A statement of SQL by name, prepared once per connection (node-postgres names it): the
 * floor pays no parse and plan per event, so it is the best this event shape gets from the
 * database (the apps' driver, TypeORM over node-postgres, sends unnamed statements).
 */
const run = (c, name, values) => c.query({ name: `points-${name}`, text: SQL[name], values });

/** The payload hash points-service keeps with an event (journal-event.ts: eventFields, in its order). */
const payloadHash = (payload) => createHash('sha256').update(JSON.stringify(payload)).digest('hex');
const fields = (memberNo, points, actionScene, campaignCode) => ({
  member_no: memberNo,
  points,
  action_scene: actionScene,
  store_code: null,
  cost_center: null,
  campaign_code: campaignCode,
  operator: null,
  event_desc: null,
  order_items: null,
});

/**
 * One event as points-service records it, in one transaction: 'ok', 'refused' (not enough
 * points: rolled back, as the service does) or 'taken' (event_no recorded already); throws
 * on a database error (rolled back). `kind` is 'earn' or 'spend'; `points` a whole number.
 */
async function floorEvent(c, kind, memberNo, eventNo, points) {
  const at = new Date();
  const pts = String(points);
  const earn = kind === 'earn';
  const expire = earn ? new Date(at.getTime() + EXPIRE_DAYS * 86_400_000) : null;
  const hash = earn
    ? payloadHash({ op: 'produce', ...fields(memberNo, pts, 'order', null), event_type: 'order', expire_days: EXPIRE_DAYS, freeze_hours: null, event_at: null })
    : payloadHash({ op: 'consume', ...fields(memberNo, pts, null, null), event_at: null });
  await c.query('BEGIN');
  try {
    await run(c, 'lockMember', [FLOOR_CRM_ID, memberNo, at]);
    if ((await run(c, 'payloadHash', [FLOOR_CRM_ID, eventNo])).rows.length) return rollback(c, 'taken');
    if (!earn) {
      const s = (await run(c, 'spendable', [FLOOR_CRM_ID, memberNo, at, pts])).rows[0];
      if (!s.enough) return rollback(c, 'refused');
    }
    const ins = await run(c, 'insertEvent', [
      FLOOR_CRM_ID,
      eventNo,
      memberNo,
      earn ? 'produce' : 'consume',
      pts,
      at,
      expire,
      null,
      earn ? 'order' : null,
      null,
      null,
      null,
      null,
      null,
      null,
      hash,
      at,
      null,
      null,
      null,
      null,
    ]);
    if (!ins.rows.length) return rollback(c, 'taken');
    const eventId = Number(ins.rows[0].auto_id);
    if (earn) {
      const { paid } = (await run(c, 'debtPaid', [FLOOR_CRM_ID, memberNo, pts])).rows[0];
      await run(c, 'insertLot', [FLOOR_CRM_ID, memberNo, eventNo, pts, expire, null, at, paid]);
      await run(c, 'addTotal', [FLOOR_CRM_ID, memberNo, pts, at, paid]);
    } else {
      const taken = (await run(c, 'takeFifo', [FLOOR_CRM_ID, memberNo, at, pts, eventId])).rows;
      const { ok } = (await run(c, 'takenAll', [pts, taken.map((r) => r.n)])).rows[0];
      if (!ok) throw new Error(`event ${eventId}: took ${taken.map((r) => r.n).join('+')} for ${pts}`);
      await run(c, 'addUsed', [FLOOR_CRM_ID, memberNo, pts, at]);
    }
    await c.query('COMMIT');
    return 'ok';
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

async function rollback(c, outcome) {
  await c.query('ROLLBACK');
  return outcome;
}

/** An event of the workload: a random member; a spend of 1-5 with probability spendRatio, else an earn of 1-10. */
function drawEvent(opts) {
  const member = `m${Math.floor(Math.random() * opts.members)}`;
  if (Math.random() < opts.spendRatio) return { kind: 'spend', member, points: 1 + Math.floor(Math.random() * 5) };
  return { kind: 'earn', member, points: 1 + Math.floor(Math.random() * 10) };
}

async function measureFloor(db, opts, runTag, named) {
  const lanes = [];
  for (let i = 0; i < opts.connections; i++) {
    const c = new Client({ connectionString: DATABASE_URL, application_name: 'bench-points-floor' });
    await c.connect();
    lanes.push(c);
  }
  try {
    await db.query('CHECKPOINT');
    const cpu = await cpuSnapshot(db, named);
    const counts = { earnOk: 0, spendOk: 0, refused: 0, taken: 0, error: 0 };
    const done = { earnOk: { seq: [], points: [] }, spendOk: { seq: [], points: [] }, refused: { seq: [], points: [] } };
    const errors = {};
    const lat = []; // every transaction that ended in COMMIT or a business ROLLBACK
    let next = 0;
    const t0 = now();
    await Promise.all(
      lanes.map(async (c) => {
        while (next < opts.floorEvents) {
          const k = ++next;
          const ev = drawEvent(opts);
          const s = now();
          try {
            const outcome = await floorEvent(c, ev.kind, ev.member, `${runTag}-f-${k}`, ev.points);
            const cls = outcome === 'ok' ? (ev.kind === 'earn' ? 'earnOk' : 'spendOk') : outcome;
            counts[cls]++;
            if (done[cls]) {
              done[cls].seq.push(k);
              done[cls].points.push(ev.points);
            }
            lat.push(now() - s);
          } catch (err) {
            counts.error++;
            const key = err.code ? `${err.code} ${err.message}` : err.message;
            errors[key] = (errors[key] || 0) + 1;
          }
        }
      }),
    );
    const wallMs = now() - t0;
    const cpuUsed = await cpu.diff();
    const answered = counts.earnOk + counts.spendOk + counts.refused;
    return { wallMs, rate: answered / (wallMs / 1000), counts, done, errors, latency: percentiles(lat), cpu: cpuUsed };
  } finally {
    await Promise.all(lanes.map((c) => c.end().catch(() => undefined)));
  }
}

// ---------- the load: autocannon in a second process ----------

// ---------- the invariants ----------

/**
 * The invariants of one tenant's ledger, read from the database. `done` lists, by event_no
 * sequence number (event_no = prefix + seq), the earns and spends whoever sent them counted
 * as successes and the spends refused; `unanswered` is how many got no usable answer (a
 * timed-out request may still have committed), so the journal rows of the run are then
 * between the successes and the successes + unanswered.
 */
async function checkLedger(db, crmId, { prefix, done, unanswered }) {
  const one = async (sql, params = []) => (await db.query(sql, [crmId, ...params])).rows[0];
  // The member's points as LedgerRepository.summary sees them at now().
  const bal = await one(`
    WITH sums AS (
      SELECT m.member_no, m.total_points, m.used_points, m.debt_points,
             coalesce(sum(l.remaining) FILTER (WHERE (l.expire_time IS NULL OR l.expire_time > now()) AND (l.unfreeze_time IS NULL OR l.unfreeze_time <= now())), 0) AS spendable,
             coalesce(sum(l.remaining) FILTER (WHERE (l.expire_time IS NULL OR l.expire_time > now()) AND l.unfreeze_time > now()), 0) AS frozen,
             coalesce(sum(l.remaining) FILTER (WHERE l.expire_time <= now()), 0) AS expired
        FROM points.member m
        LEFT JOIN points.lot l ON l.crm_id = m.crm_id AND l.member_no = m.member_no AND l.remaining > 0
       WHERE m.crm_id = $1
       GROUP BY m.member_no, m.total_points, m.used_points, m.debt_points)
    SELECT count(*)::bigint AS members,
           count(*) FILTER (WHERE total_points <> (spendable - debt_points) + frozen + expired + used_points)::bigint AS mismatched,
           count(*) FILTER (WHERE spendable - debt_points < 0)::bigint AS negative,
           sum(total_points)::text AS total, sum(used_points)::text AS used, sum(spendable - debt_points)::text AS active,
           sum(frozen)::text AS frozen, sum(expired)::text AS expired
      FROM sums`);
  const lots = await one(`
    SELECT count(*)::bigint AS lots, count(*) FILTER (WHERE remaining < 0 OR remaining > amount)::bigint AS bad
      FROM points.lot WHERE crm_id = $1`);
  // Every consume's allocations add up to its points (one with none counts as wrong); no allocation without its consume.
  const alloc = await one(`
    WITH a AS (SELECT event_id, sum(points) AS s FROM points.allocation WHERE crm_id = $1 GROUP BY event_id)
    SELECT (SELECT count(*) FROM points.event e LEFT JOIN a ON a.event_id = e.auto_id
             WHERE e.crm_id = $1 AND e.event_type = 'consume' AND a.s IS DISTINCT FROM e.points)::bigint AS wrong,
           (SELECT count(*) FROM points.event e WHERE e.crm_id = $1 AND e.event_type = 'consume')::bigint AS consumes,
           (SELECT count(*) FROM a LEFT JOIN points.event e ON e.crm_id = $1 AND e.auto_id = a.event_id
             WHERE e.auto_id IS NULL OR e.event_type <> 'consume')::bigint AS stray`);
  // The member's counters agree with the journal: total = all lots' amounts, used = what allocations took.
  const counters = await one(`
    WITH l AS (SELECT member_no, sum(amount) AS amount FROM points.lot WHERE crm_id = $1 GROUP BY member_no),
         u AS (SELECT e.member_no, sum(a.points - a.returned) AS used FROM points.allocation a
                 JOIN points.event e ON e.crm_id = a.crm_id AND e.auto_id = a.event_id WHERE a.crm_id = $1 GROUP BY e.member_no)
    SELECT count(*) FILTER (WHERE m.total_points <> coalesce(l.amount, 0))::bigint AS total_off,
           count(*) FILTER (WHERE m.used_points <> coalesce(u.used, 0))::bigint AS used_off
      FROM points.member m LEFT JOIN l USING (member_no) LEFT JOIN u USING (member_no) WHERE m.crm_id = $1`);
  // Every produce has exactly one lot of its amount.
  const earns = await one(`
    WITH l AS (SELECT event_no, count(*) AS n, sum(amount) AS amount FROM points.lot WHERE crm_id = $1 GROUP BY event_no)
    SELECT count(*) FILTER (WHERE l.n IS DISTINCT FROM 1 OR l.amount <> e.points)::bigint AS wrong, count(*)::bigint AS produces
      FROM points.event e LEFT JOIN l USING (event_no) WHERE e.crm_id = $1 AND e.event_type = 'produce'`);
  // The answers against the journal rows of this run.
  const answered = async (list, type) =>
    one(
      `SELECT count(e.auto_id)::bigint AS found,
              count(*) FILTER (WHERE e.event_type = $4 AND e.points = s.points)::bigint AS matching
         FROM unnest($2::text[], $3::numeric[]) AS s(event_no, points)
         LEFT JOIN points.event e ON e.crm_id = $1 AND e.event_no = s.event_no`,
      [list.seq.map((k) => `${prefix}${k}`), list.points, type],
    );
  const earnRows = await answered(done.earnOk, 'produce');
  const spendRows = await answered(done.spendOk, 'consume');
  const refusedRows = await answered(done.refused, 'consume');
  const runRows = await one(`SELECT count(*)::bigint AS n FROM points.event WHERE crm_id = $1 AND starts_with(event_no, $2)`, [prefix]);

  const v = Number;
  const okEarn = done.earnOk.seq.length;
  const okSpend = done.spendOk.seq.length;
  const oks = okEarn + okSpend;
  const rows = v(runRows.n);
  const checks = [
    [
      'per member: total = active + frozen + expired + used (summary at now())',
      v(bal.mismatched) === 0,
      `${bal.mismatched} of ${bal.members} members differ; sums: total ${bal.total} = active ${bal.active} + frozen ${bal.frozen} + expired ${bal.expired} + used ${bal.used}`,
    ],
    ['no member below 0 active points', v(bal.negative) === 0, `${bal.negative} below 0`],
    ['every lot 0 <= remaining <= amount', v(lots.bad) === 0, `${lots.bad} of ${lots.lots} lots out of range`],
    [
      'allocations of each consume sum to its points',
      v(alloc.wrong) === 0 && v(alloc.stray) === 0,
      `${alloc.wrong} of ${alloc.consumes} consumes differ; ${alloc.stray} allocations without their consume`,
    ],
    ['every produce has one lot of its amount', v(earns.wrong) === 0, `${earns.wrong} of ${earns.produces} produces differ`],
    [
      'member counters = journal (total = lot amounts, used = allocations)',
      v(counters.total_off) === 0 && v(counters.used_off) === 0,
      `${counters.total_off} totals, ${counters.used_off} used differ`,
    ],
    [
      'every answered success has one journal row of its kind and points',
      v(earnRows.found) === okEarn && v(earnRows.matching) === okEarn && v(spendRows.found) === okSpend && v(spendRows.matching) === okSpend,
      `earns ${earnRows.matching}/${earnRows.found} matching/found of ${okEarn}; spends ${spendRows.matching}/${spendRows.found} of ${okSpend}`,
    ],
    ['no journal row for a refusal', v(refusedRows.found) === 0, `${refusedRows.found} of ${done.refused.seq.length} refusals have a row`],
    [
      unanswered ? 'successes <= rows of the run <= successes + unanswered' : 'successes counted = rows of the run',
      unanswered ? rows >= oks && rows <= oks + unanswered : rows === oks,
      `${fmt(oks)} counted, ${fmt(rows)} rows${unanswered ? `, ${unanswered} unanswered` : ''}`,
    ],
  ];
  return { ok: checks.every((c) => c[1]), checks, members: v(bal.members), sums: bal };
}

// ---------- main ----------

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-points-'));
  const rootKey = `root-${randomBytes(12).toString('hex')}`;
  const runTag = `b${randomBytes(4).toString('hex')}`;
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const startedAt = new Date();

  console.log(
    `bench:points  members=${fmt(opts.members)}  events=${fmt(opts.events)}  spend_ratio=${opts.spendRatio}  ` +
      `connections=${opts.connections}  floor events=${fmt(opts.floorEvents)}  db=${DB_NAME}  redis db=${REDIS_DB}`,
  );
  console.log(lib.machineLine());
  console.log(`logs: ${logDir}`);

  await resetStores();
  const pass = (name) => (process.env[name] ? { [name]: process.env[name] } : {});
  const env = appEnv(
    { databaseUrl: DATABASE_URL, redisUrl: REDIS_URL, rootKey, port },
    {
      ...pass('DB_POOL_SIZE'),
      ...pass('POINTS_BATCH_MAX'),
      ...pass('LOG_LEVEL'),
      ...pass('RPC_CONCURRENCY'),
      ...pass('RPC_TIMEOUT_MS'),
    },
  );
  const gateway = spawnApp('gateway', env, logDir);
  const points = spawnApp('points-service', env, logDir);
  const procs = [gateway, points];
  console.log(`dist: gateway ${sha(gateway.main)}, points-service ${sha(points.main)} (sha256 prefix of main.js)`);
  const bootT0 = now();
  await waitForHealth(base, procs, 90_000, { service: 'points', instances: 1 });
  console.log(`apps up in ${secs(now() - bootT0)} (${procs.map((p) => `${p.app} pid ${p.child.pid}`).join(', ')})`);

  const db = new Client({ connectionString: DATABASE_URL, application_name: 'bench-points' });
  await db.connect();
  try {
    const settings = await pgSettings(db, ['max_connections', 'autovacuum']);
    const pgVersion = (await db.query('SHOW server_version')).rows[0].server_version;
    const room = (
      await db.query(
        `SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int
              - (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int AS free,
              (SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name IN ('gateway', 'points-service'))::int AS apps`,
        [DB_NAME],
      )
    ).rows[0];
    const appsToOpen = Math.max(0, 2 * Number(env.DB_POOL_SIZE) - room.apps);
    if (opts.connections > room.free) {
      throw new Error(
        `PostgreSQL has room for ${room.free} more connections, the floor needs ${opts.connections}: lower --connections or raise max_connections`,
      );
    }
    if (opts.connections + appsToOpen > room.free) {
      console.log(
        `warning: PostgreSQL has room for ${room.free} more connections; the floor needs ${opts.connections} and the apps' pools may open ${appsToOpen} more (other clients of the server count too)`,
      );
    }

    // 0. the members with an opening earn, for both tenants, directly in PostgreSQL
    const t0 = now();
    await seed(db, opts.members);
    console.log(`seed: ${fmt(opts.members)} members x 2 tenants (${CRM_ID}, ${FLOOR_CRM_ID}), ${SEED_POINTS} points each, in ${secs(now() - t0)}`);

    const named = [{ pid: process.pid, group: 'bench' }, ...procs.map((p) => ({ pid: p.child.pid, group: p.app }))];

    // 1. the floor, apps idle
    process.stdout.write(`floor: ${fmt(opts.floorEvents)} events in PostgreSQL, ${opts.connections} clients ... `);
    const floor = await measureFloor(db, opts, runTag, named);
    console.log(`${secs(floor.wallMs)}, ${fmt(floor.rate)} events/s`);
    if (floor.counts.error) console.log(`  floor errors: ${JSON.stringify(floor.errors)}`);

    // 2. the load through the gateway
    await db.query('CHECKPOINT');
    console.log(`load: ${fmt(opts.events)} requests, ${opts.connections} connections (autocannon in a second process) ...`);
    let cpu = null;
    const load = await runLoad(
      'points-load.js',
      {
        base,
        key: rootKey,
        crm: CRM_ID,
        members: opts.members,
        requests: opts.events,
        connections: opts.connections,
        spendRatio: opts.spendRatio,
        runTag,
        timeoutS: LOAD_TIMEOUT_S,
      },
      procs,
      async (pid) => {
        cpu = await cpuSnapshot(db, [...named, { pid, group: 'load' }]);
      },
    );
    const loadCpu = await cpu.diff();
    loadCpu.load = (load.cpu.user + load.cpu.system) / 1e6; // gone by now: its own process.cpuUsage() at the end
    const c = load.counts;
    const errors = c.otherAnswers + c.noAnswer;
    const oks = c.earnOk + c.spendOk;
    const eventsPerS = (oks + c.refused) / (load.wallMs / 1000);
    console.log(`  ${secs(load.wallMs)}, ${fmt(eventsPerS)} events/s, ${fmt(errors)} errors`);

    // 3. the invariants (statistics first: with autovacuum off the planner thinks the new rows are not there)
    await db.query('ANALYZE points.member, points.event, points.lot, points.allocation');
    const loadInv = await checkLedger(db, CRM_ID, { prefix: `${runTag}-l-`, done: load.done, unanswered: errors });
    const floorInv = await checkLedger(db, FLOOR_CRM_ID, { prefix: `${runTag}-f-`, done: floor.done, unanswered: floor.counts.error });
    const invOk = loadInv.ok && floorInv.ok;

    // 4. summary
    const ratio = eventsPerS / floor.rate;
    const lat = load.latency;
    const cpus = os.cpus().length;
    const met = (b) => (b ? 'MET' : 'NOT MET');
    const perS = load.perSecond.length > 2 ? load.perSecond.slice(0, -1) : load.perSecond; // the last second is partial
    const line = (k, v) => console.log(`  ${k.padEnd(34)} ${v}`);
    const latLine = (l) => `p50 ${ms(l.p50)}  p95 ${ms(l.p95)}  p99 ${ms(l.p99)}  max ${ms(l.max)}`;
    const fc = floor.counts;
    console.log('');
    console.log('================ bench:points summary ================');
    line('date', startedAt.toISOString());
    line(
      'machine',
      `${cpus} cores, load ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')} (after), PostgreSQL ${pgVersion}, node ${process.version}`,
    );
    line('postgres settings', settings);
    line(
      'apps',
      `gateway + points-service, DB_POOL_SIZE=${env.DB_POOL_SIZE}${env.RPC_CONCURRENCY ? ` RPC_CONCURRENCY=${env.RPC_CONCURRENCY}` : ''}${env.RPC_TIMEOUT_MS ? ` RPC_TIMEOUT_MS=${env.RPC_TIMEOUT_MS}` : ''}`,
    );
    line(
      'workload',
      `${fmt(opts.members)} members (${SEED_POINTS} points seeded each), ${fmt(opts.events)} events, spend ratio ${opts.spendRatio} (spend 1-5, earn 1-10 expiring in ${EXPIRE_DAYS} d), ${opts.connections} connections`,
    );
    line('load wall time', `${secs(load.wallMs)} (first answer after ${secs(load.firstAnswerMs)}, last at ${secs(load.lastAnswerMs)})`);
    line('events/s (end to end)', `${fmt(eventsPerS)}  (${fmt(oks + c.refused)} successes + refusals / wall time)`);
    line('events/s per second', perS.length ? `min ${fmt(Math.min(...perS))}, max ${fmt(Math.max(...perS))} over ${perS.length} whole seconds` : 'n/a');
    line('latency ms, all answers', `${latLine(lat)}  (autocannon histogram: p50 ${load.autocannon.p50}, p99 ${load.autocannon.p99})`);
    line('latency ms, earns ok', latLine(load.latencyEarnOk));
    line('latency ms, spends ok', latLine(load.latencySpendOk));
    line(
      'answers',
      `earn ok ${fmt(c.earnOk)}, spend ok ${fmt(c.spendOk)}, not enough points (40908) ${fmt(c.refused)}, errors ${fmt(errors)}  (sent: ${fmt(load.built.earn)} earns, ${fmt(load.built.spend)} spends)`,
    );
    if (c.otherAnswers) {
      line(
        '  other answers (kind status/code)',
        Object.entries(load.other)
          .map(([k, n]) => `${k} x${fmt(n)}`)
          .join(', '),
      );
      for (const [k, body] of Object.entries(load.samples)) line(`  first ${k}`, body);
    }
    if (c.noAnswer)
      line(
        '  no answer',
        `${Object.entries(load.noAnswerReasons)
          .map(([k, n]) => `${k} x${fmt(n)}`)
          .join(', ')} (timeout ${LOAD_TIMEOUT_S} s)`,
      );
    line(
      'floor: events in PostgreSQL',
      `${fmt(fc.earnOk + fc.spendOk + fc.refused)} in ${secs(floor.wallMs)}  ->  ${fmt(floor.rate)} events/s  (earn ok ${fmt(fc.earnOk)}, spend ok ${fmt(fc.spendOk)}, refused ${fmt(fc.refused)})`,
    );
    line('floor latency ms (transaction)', latLine(floor.latency));
    line('floor statements', 'named (prepared) statements, one transaction per event (the app: batches per tenant, see EventBatchService)');
    if (fc.taken || fc.error)
      line(
        'floor: not ok',
        Object.entries(fc)
          .filter(([k, n]) => (k === 'taken' || k === 'error') && n)
          .map(([k, n]) => `${k} ${fmt(n)}`)
          .join(', '),
      );
    line('CPU s in the floor', fmtCpu(floor.cpu));
    line('CPU s in the load', `${fmtCpu(loadCpu)}  (load = autocannon's process; pg:points-service = its PostgreSQL backends)`);
    line('ratio events/s / floor events/s', ratio.toFixed(2));
    line(
      'targets',
      `events/s >= ${fmt(TARGET.eventsPerS)}: ${met(eventsPerS >= TARGET.eventsPerS)}; ratio >= ${TARGET.ratio.toFixed(1)}: ${met(ratio >= TARGET.ratio)}`,
    );
    console.log(`  invariants, load tenant ${CRM_ID}:`);
    for (const [name, ok, detail] of loadInv.checks) console.log(`    [${ok ? 'ok' : 'FAIL'}] ${name} (${detail})`);
    console.log(`  invariants, floor tenant ${FLOOR_CRM_ID}:`);
    for (const [name, ok, detail] of floorInv.checks) console.log(`    [${ok ? 'ok' : 'FAIL'}] ${name} (${detail})`);
    line('invariants', invOk ? 'HOLD' : 'BROKEN');
    line('logs', logDir);
    console.log('======================================================');
    console.log(
      `RESULT members=${opts.members} events=${opts.events} spend_ratio=${opts.spendRatio} connections=${opts.connections} ` +
        `events_per_s=${Math.round(eventsPerS)} p50_ms=${ms(lat.p50)} p95_ms=${ms(lat.p95)} p99_ms=${ms(lat.p99)} ` +
        `earn_ok=${c.earnOk} spend_ok=${c.spendOk} refused=${c.refused} errors=${errors} floor_events_per_s=${Math.round(floor.rate)} ` +
        `floor_p50_ms=${ms(floor.latency.p50)} floor_p99_ms=${ms(floor.latency.p99)} ratio=${ratio.toFixed(3)} invariants=${invOk ? 'ok' : 'broken'}`,
    );
    if (!invOk) return 1;
    if (oks === 0) {
      console.error('\nbench:points: no event succeeded through the gateway, nothing was measured (see the answers above)');
      return 2;
    }
    return 0;
  } finally {
    await db.end().catch(() => undefined);
  }
}

lib.runMain('bench:points', main);
