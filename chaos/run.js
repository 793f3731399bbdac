#!/usr/bin/env node
'use strict';
/**
 * npm run chaos: the suite's fault tolerance, measured (issue 12). Boots the apps from dist/
 * as separate processes (gateway, 2 card-service api replicas, a card-service worker,
 * points-service, dashboard-service, webhook-service) against a private PostgreSQL and a private Redis
 * (chaos/cluster.js), runs load with retrying clients (chaos/load.js) while faults happen,
 * then checks the invariants (chaos/invariants.js). One line per scenario:
 *
 *   scenario N <name>: requests, ok, refused, 5xx (503 / 500), no answer, failed, recovery seconds, violations
 *
 *   node chaos/run.js [--scenario N]... [--quick] [--keep]
 *   --quick   smaller sizes (100,000 codes instead of 1,000,000, shorter loads): about a minute a scenario
 *   --keep    keep the temp dir (logs of every process, the stores' data) and print it
 *
 * Exit 0 when every scenario held every invariant, 1 on a violation, 2 on an error.
 * Needs dist/ (npm run build), PostgreSQL server binaries (/usr/lib/postgresql/<v>/bin) and redis-server.
 */
const EXAMPLE_CARD = require('../libs/domain/src/card/card.example.json');
const { Cluster, sleep } = require('./cluster');
const { Stats, send, claimOp, pointsOp, closedLoop, openLoop } = require('./load');
const check = require('./invariants');

const USAGE = 'usage: node chaos/run.js [--scenario N]... [--quick] [--keep]';

function parseArgs(argv) {
  const opts = { scenarios: [], quick: false, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    if (flag === '--quick') opts.quick = true;
    else if (flag === '--keep') opts.keep = true;
    else if (flag === '--scenario') {
      const n = Number(inline ?? argv[++i]);
      if (!SCENARIOS[n]) throw new Error(`--scenario takes 1 to 7, got ${inline ?? argv[i]}\n${USAGE}`);
      opts.scenarios.push(n);
    } else if (flag === '--help' || flag === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown option ${flag}\n${USAGE}`);
  }
  if (!opts.scenarios.length) opts.scenarios = Object.keys(SCENARIOS).map(Number);
  return opts;
}

// ---------- helpers ----------

const log = (line) => console.log(`  ${new Date().toISOString().slice(11, 19)} ${line}`);

/** A card with system codes, valid for ever; answers its card_id (stock generating in the background). */
async function createCard(cluster, crm, totalQuantity, getLimit = 0) {
  const body = { ...EXAMPLE_CARD, title: `chaos ${crm}`, total_quantity: totalQuantity, get_limit: getLimit, date_type: 3, generate_type: 1 };
  delete body.begin_time;
  delete body.end_time;
  const res = await send(cluster, new Stats(), { kind: 'create', path: `/api/crm/card/${crm}/create`, body });
  if (!res || res.body.code !== 0) throw new Error(`creating a card answered ${JSON.stringify(res?.body)}`);
  return res.body.data.card_id;
}

async function stocked(cluster, crm, n) {
  const cardId = await createCard(cluster, crm, n);
  const v = await check.stock(cluster, crm, cardId, n, 300_000);
  if (v.length) throw new Error(v.join('; '));
  return cardId;
}

/** Until `cond()` is true (polled), at most `ms`. */
async function until(what, cond, ms = 60_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The usual checks of a tenant after a scenario (the load stopped): claims of `cards`, points, same answers, stock jobs, dashboard. */
async function settleAndCheck(cluster, stats, crm, cards, { points = false, dashboard = true } = {}) {
  const v = [];
  for (const cardId of cards) v.push(...(await check.claims(cluster, stats, crm, cardId)));
  if (points) v.push(...(await check.points(cluster, stats, crm)));
  v.push(...(await check.sameAnswers(cluster, stats)));
  v.push(...(await check.noStuckJobs(cluster, crm)));
  if (dashboard && cards.length) v.push(...(await check.dashboard(cluster, crm)));
  if (stats.s500) v.push(`${stats.s500} answer(s) 500 (a bug, not an outage), e.g. ${stats.samples500[0]}`);
  return v;
}

// ---------- scenarios ----------

const SCENARIOS = {
  1: {
    name: 'SIGKILL a card api replica mid flash sale',
    async run(cluster, q) {
      const crm = 'chaos_s1';
      const cardId = await stocked(cluster, crm, q ? 3_000 : 20_000);
      const stats = new Stats();
      const load = closedLoop(cluster, stats, 32, () => claimOp(crm, cardId, q ? 1_000 : 10_000));
      await sleep(2_000);
      log('SIGKILL card-api-2');
      stats.fault();
      await cluster.kill('card-api-2', 'SIGKILL');
      await sleep(2_000);
      log('restarting card-api-2');
      await cluster.restart('card-api-2');
      await sleep(q ? 2_000 : 8_000);
      await load.stop();
      return { stats, violations: await settleAndCheck(cluster, stats, crm, [cardId]) };
    },
  },

  2: {
    name: 'SIGKILL the card worker mid stock generation and mid outbox relay',
    async run(cluster, q) {
      const crm = 'chaos_s2';
      const n = q ? 100_000 : 1_000_000;
      const stats = new Stats();
      const cardId = await createCard(cluster, crm, n);
      await until('stock generation to be under way', async () => {
        const [r] = await cluster.sql(`SELECT generated::int AS g FROM card.card_generate WHERE crm_id = $1 AND card_id = $2`, [crm, cardId]);
        return r && r.g > 0;
      });
      log('SIGKILL card-worker mid stock generation');
      stats.fault();
      await cluster.kill('card-worker', 'SIGKILL');
      await sleep(1_000);
      await cluster.restart('card-worker');
      const v = await check.stock(cluster, crm, cardId, n, q ? 180_000 : 600_000);
      stats.lastBadAt = Date.now(); // recovery: until the stock job, taken over, finished
      log(`stock generated after ${((Date.now() - stats.faultAt) / 1000).toFixed(1)} s`);

      const load = closedLoop(cluster, stats, 32, () => claimOp(crm, cardId, 5_000));
      await until('card events waiting in the outbox', async () => (await cluster.sql(`SELECT count(*)::int AS n FROM card.outbox`))[0].n > 0);
      await sleep(1_500);
      log('SIGKILL card-worker mid outbox relay');
      await cluster.kill('card-worker', 'SIGKILL');
      await sleep(2_000);
      await cluster.restart('card-worker');
      await sleep(q ? 2_000 : 6_000);
      await load.stop();
      v.push(...(await settleAndCheck(cluster, stats, crm, [cardId])));
      return { stats, violations: v };
    },
  },

  3: {
    name: 'SIGKILL Redis mid load: restart on its AOF, then restart with the data lost',
    async run(cluster, q) {
      const crm = 'chaos_s3';
      const cardId = await stocked(cluster, crm, q ? 3_000 : 20_000);
      const stats = new Stats();
      const claimsLoad = closedLoop(cluster, stats, 16, () => claimOp(crm, cardId, 2_000));
      const pointsLoad = closedLoop(cluster, stats, 16, () => pointsOp(crm, 300));
      await sleep(2_000);
      log('SIGKILL redis; restart on the same AOF in 2 s');
      stats.fault();
      await cluster.killRedis();
      await sleep(2_000);
      await cluster.restartRedis();
      await sleep(q ? 4_000 : 8_000);
      // The stock of a second card is generating when Redis loses everything: its job must not be lost.
      const second = await createCard(cluster, crm, q ? 50_000 : 200_000);
      log('SIGKILL redis; restart with its data lost in 2 s');
      await cluster.killRedis();
      await sleep(2_000);
      await cluster.restartRedis({ lose: true });
      await sleep(q ? 5_000 : 10_000);
      await claimsLoad.stop();
      await pointsLoad.stop();
      const v = await check.stock(cluster, crm, second, q ? 50_000 : 200_000, 60_000);
      v.push(...(await settleAndCheck(cluster, stats, crm, [cardId], { points: true })));
      return { stats, violations: v };
    },
  },

  4: {
    name: 'PostgreSQL immediate stop mid load, then start',
    async run(cluster, q) {
      const crm = 'chaos_s4';
      const cardId = await stocked(cluster, crm, q ? 3_000 : 20_000);
      const stats = new Stats();
      const claimsLoad = closedLoop(cluster, stats, 16, () => claimOp(crm, cardId, 2_000));
      const pointsLoad = closedLoop(cluster, stats, 16, () => pointsOp(crm, 300));
      await sleep(2_000);
      log('pg_ctl stop -m immediate; start in 3 s');
      stats.fault();
      cluster.stopPostgres('immediate');
      await sleep(3_000);
      await cluster.startPostgres();
      await sleep(q ? 5_000 : 10_000);
      await claimsLoad.stop();
      await pointsLoad.stop();
      return { stats, violations: await settleAndCheck(cluster, stats, crm, [cardId], { points: true }) };
    },
  },

  5: {
    name: 'SIGKILL the dashboard service mid apply',
    async run(cluster, q) {
      const crm = 'chaos_s5';
      const cardId = await stocked(cluster, crm, q ? 5_000 : 30_000);
      const stats = new Stats();
      const load = closedLoop(cluster, stats, 32, () => claimOp(crm, cardId, 3_000));
      await sleep(3_000);
      log('SIGKILL dashboard');
      stats.fault();
      await cluster.kill('dashboard', 'SIGKILL');
      await sleep(2_000);
      await cluster.restart('dashboard');
      await sleep(q ? 2_000 : 8_000);
      await load.stop();
      return { stats, violations: await settleAndCheck(cluster, stats, crm, [cardId]) };
    },
  },

  6: {
    name: 'rolling restart, SIGTERM each process in turn',
    async run(cluster, q) {
      const crm = 'chaos_s6';
      const cardId = await stocked(cluster, crm, q ? 10_000 : 50_000);
      const stats = new Stats();
      const claimsLoad = closedLoop(cluster, stats, 16, () => claimOp(crm, cardId, 5_000));
      const pointsLoad = closedLoop(cluster, stats, 16, () => pointsOp(crm, 300));
      await sleep(2_000);
      stats.fault();
      const v = [];
      for (const label of ['card-api-1', 'card-api-2', 'card-worker', 'points', 'dashboard', 'gateway']) {
        const t0 = Date.now();
        const { code, signal } = await cluster.replace(label);
        log(`${label} replaced, the old one drained and exited ${signal ?? code} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        if (code !== 0) v.push(`${label} exited ${signal ?? code} on SIGTERM, not 0`);
      }
      await sleep(2_000);
      await claimsLoad.stop();
      await pointsLoad.stop();
      const bad = stats.requests - stats.ok;
      if (bad) v.push(`${bad} request(s) failed during the rolling restart (503 ${stats.s503}, no answer ${stats.noAnswer}, 500 ${stats.s500})`);
      v.push(...(await settleAndCheck(cluster, stats, crm, [cardId], { points: true })));
      return { stats, violations: v };
    },
  },

  7: {
    name: 'overload at 20x the sustainable rate',
    async run(cluster, q) {
      const crm = 'chaos_s7';
      const cardId = await stocked(cluster, crm, q ? 20_000 : 100_000);
      const mix = () => (Math.random() < 0.5 ? claimOp(crm, cardId, 20_000) : pointsOp(crm, 1_000));
      const base = new Stats();
      const probe = closedLoop(cluster, base, 16, mix);
      await sleep(5_000);
      await probe.stop();
      const sustainable = base.ok / 5;
      const seconds = q ? 10 : 30;
      const rate = Math.round(sustainable * 20);
      log(`sustainable ~${sustainable.toFixed(0)} req/s; offering ${rate} req/s for ${seconds} s`);
      const stats = new Stats();
      stats.fault();
      const rss = {};
      const sampler = setInterval(() => {
        for (const [k, mb] of Object.entries(cluster.rss())) rss[k] = Math.max(rss[k] || 0, mb);
      }, 1_000);
      const deadlineMs = 12_000;
      const { issued, notSent } = await openLoop(cluster, stats, { rate, seconds, timeoutMs: deadlineMs, maxInFlight: 4_000, makeOp: mix });
      clearInterval(sampler);
      const overEnd = Date.now();
      const lat = stats.latencies.slice().sort((a, b) => a - b);
      const p = (x) => lat[Math.min(lat.length - 1, Math.floor(x * lat.length))] ?? 0;
      log(`offered ${issued} (${notSent} not sent: client cap), latency p50 ${p(0.5)} ms p99 ${p(0.99)} ms max ${lat[lat.length - 1] ?? 0} ms`);
      log(`max RSS MB: ${JSON.stringify(rss)}`);
      const v = [];
      if (stats.noAnswer) v.push(`${stats.noAnswer} request(s) with no answer within ${deadlineMs / 1000} s (a hang)`);
      for (const [k, mb] of Object.entries(rss)) if (mb > 1_024) v.push(`${k} grew to ${mb} MB`);
      // Normal service within seconds after.
      const after = new Stats();
      const normal = closedLoop(cluster, after, 8, mix);
      await sleep(q ? 5_000 : 10_000);
      await normal.stop();
      const back = after.lastBadAt ? (after.lastBadAt - overEnd) / 1000 : 0;
      log(`after: ${after.ok}/${after.requests} ok, bad until ${back.toFixed(1)} s after the overload`);
      if (after.failed || back > 10) v.push(`service not normal after the overload: ${after.failed} failed, bad answers until ${back.toFixed(1)} s after`);
      stats.lastBadAt = Math.max(stats.lastBadAt, after.lastBadAt);
      for (const a of [...base.acked, ...after.acked]) stats.acked.push(a);
      for (const m of [...base.unknown, ...after.unknown]) stats.unknown.add(m);
      v.push(...(await settleAndCheck(cluster, stats, crm, [cardId], { points: true })));
      return { stats, violations: v };
    },
  },
};

// ---------- main ----------

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const started = Date.now();
  console.log(`chaos: scenarios ${opts.scenarios.join(', ')}${opts.quick ? ' (quick)' : ''}, ${new Date().toISOString()}`);
  let cluster = await Cluster.start({ keep: opts.keep });
  console.log(`  private PostgreSQL on :${cluster.pgPort}, Redis on :${cluster.redisPort}, gateway on ${cluster.base}; dir ${cluster.dir}`);
  const stop = () => cluster.stop({ keep: opts.keep }).catch(() => undefined);
  for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => void stop().finally(() => process.exit(130)));
  const lines = [];
  let violations = 0;
  try {
    for (const n of opts.scenarios) {
      const s = SCENARIOS[n];
      console.log(`scenario ${n}: ${s.name}`);
      let line;
      try {
        const { stats, violations: v } = await s.run(cluster, opts.quick);
        for (const x of v) console.log(`  VIOLATION: ${x}`);
        if (stats.noAnswer) console.log(`  no answer: ${JSON.stringify(stats.noAnswerWhy)}`);
        violations += v.length;
        line = stats.line(n, s.name, v.length);
      } catch (err) {
        violations++;
        line = `scenario ${n} ${s.name}: ERROR ${err.message}, violations 1`;
      }
      console.log(line);
      lines.push(line);
      try {
        await cluster.waitReady(undefined, 60_000);
      } catch (err) {
        console.log(`  the cluster did not come back (${err.message}): starting a new one`);
        await stop();
        cluster = await Cluster.start({ keep: opts.keep });
      }
    }
  } finally {
    await stop();
    if (opts.keep) console.log(`  logs and data kept in ${cluster.dir}`);
  }
  console.log(`\nchaos summary (${((Date.now() - started) / 1000).toFixed(0)} s):`);
  for (const l of lines) console.log(l);
  return violations ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`chaos failed: ${err && err.stack ? err.stack : err}`);
    process.exit(2);
  },
);
