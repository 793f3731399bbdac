#!/usr/bin/env node
'use strict';
/**
 * bench:stock — how fast the `card-stock` job fills a card's code pool, against the raw
 * PostgreSQL floor on the same table.
 *
 *   node bench/stock.js [--quantity N] [--batch-size N] [--poll-ms N] [--timeout-s N]
 *   (npm run bench:stock builds dist first, then runs this)
 *
 * What it does, in order:
 *   1. drops and creates the database `bench_stock`, flushes Redis logical db 14;
 *   2. boots gateway and card-service from dist/ as child processes (logs in a temp dir),
 *      waits until /health reports PostgreSQL, Redis and the card service up;
 *   3. floor: one `INSERT INTO card.card_code ... SELECT ... FROM generate_series(1, N)`
 *      into the same table (same crm_id, another card_id, so the same unique index
 *      (crm_id, card_code) takes random 19-digit codes), timed; then TRUNCATE + CHECKPOINT
 *      so the job starts from the same empty table and index the floor started from;
 *   4. job: POST /api/crm/card/<crm>/create with total_quantity N, then polls
 *      GET .../stock/status?generate_id=init-<card_id> until is_generated. codes/s is
 *      measured from the create answer to the first poll that sees is_generated. The job's
 *      own time comes from the Bull events of the queue (active / progress / completed,
 *      Redis pub/sub, filtered by this job's id);
 *   5. checks the invariant: exactly N codes for the card, all distinct, slots 1..N, all
 *      19-digit numeric; the job record and the card counters agree;
 *   6. prints a summary, stops the children; exit 1 if the invariant fails, 2 on error.
 *
 * Environment: BENCH_PG_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres),
 * BENCH_REDIS_URL (default redis://127.0.0.1:6379).
 */
const { randomBytes } = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Client } = require('pg');
const Redis = require('ioredis');
const EXAMPLE_CARD = require('../libs/domain/src/card/card.example.json');
const lib = require('./lib');

const { appEnv, sleep, now, fmt, secs, freePort, sha, fmtCpu, spawnApp, call, waitForHealth, pgSettings } = lib;
const DB_NAME = 'bench_stock';
const REDIS_DB = 14;
const CRM_ID = 'crm_bench';
const FLOOR_CARD_ID = 'bench-floor';
const BULL_PREFIX = 'loyalty:card-stock'; // BullModule.forRoot prefix 'loyalty' + queue name
const DATABASE_URL = lib.databaseUrl(DB_NAME);
const REDIS_URL = lib.redisUrl(REDIS_DB);

// ---------- options ----------

function parseArgs(argv) {
  const opts = { quantity: 1_000_000, batchSize: null, pollMs: 100, timeoutS: 1800 };
  const names = { '--quantity': 'quantity', '--batch-size': 'batchSize', '--poll-ms': 'pollMs', '--timeout-s': 'timeoutS' };
  for (let i = 0; i < argv.length; i++) {
    let [flag, value] = argv[i].split('=', 2);
    if (flag === '--help' || flag === '-h') {
      console.log('usage: node bench/stock.js [--quantity N] [--batch-size N] [--poll-ms N] [--timeout-s N]');
      process.exit(0);
    }
    const key = names[flag];
    if (!key) throw new Error(`unknown option ${flag}`);
    if (value === undefined) value = argv[++i];
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag} needs a positive whole number, got "${value}"`);
    opts[key] = n;
  }
  if (opts.quantity > 10_000_000) throw new Error('--quantity is at most 10,000,000 (MAX_TOTAL_QUANTITY)');
  return opts;
}

// ---------- shared helpers (bench/lib.js), bound to this run's database ----------

const cpuSnapshot = (db, named) => lib.cpuSnapshot(db, DB_NAME, named);
const resetStores = () => lib.resetStores(DB_NAME, REDIS_URL);
lib.stopOnSignals();

/**
 * The floor: the same rows written by one INSERT ... SELECT inside PostgreSQL, no client,
 * no queue. The code is a 19-digit number with no leading zero, uniform over 10^18..10^19-1
 * like numericCodes: a 10-digit head (10^9..10^10-1) and a 9-digit tail, each
 * from its own random() (a double has 52 random bits, so one random() * 9e18 would only
 * reach every 2,048th value; two draws cover the whole space). Random, so the unique index
 * (crm_id, card_code) takes inserts at random places, as it does from the job.
 */
const FLOOR_SQL = `
  INSERT INTO card.card_code (crm_id, card_id, slot, card_code, generate_id)
  SELECT $1, $2, g,
         (1000000000 + floor(random() * 9000000000))::bigint::text || lpad(floor(random() * 1000000000)::bigint::text, 9, '0'),
         $3
    FROM generate_series(1, $4::bigint) AS g`;

async function measureFloor(db, n) {
  await db.query('CHECKPOINT');
  const cpu = await cpuSnapshot(db, []);
  const t0 = now();
  const res = await db.query(FLOOR_SQL, [CRM_ID, FLOOR_CARD_ID, 'bench-floor', n]);
  const ms = now() - t0;
  const cpuUsed = await cpu.diff();
  if (res.rowCount !== n) throw new Error(`floor inserted ${res.rowCount} rows, expected ${n}`);
  const shape = (
    await db.query(`SELECT count(*) FILTER (WHERE card_code !~ '^[1-9][0-9]{18}$')::int AS bad FROM card.card_code WHERE crm_id = $1 AND card_id = $2`, [
      CRM_ID,
      FLOOR_CARD_ID,
    ])
  ).rows[0];
  if (shape.bad) throw new Error(`floor made ${shape.bad} codes of the wrong shape`);
  return { ms, rate: n / (ms / 1000), cpu: cpuUsed };
}

// ---------- Bull events of the job ----------

/** Listens to the queue's pub/sub channels (global to the Redis server, so filtered by job id). */
async function listenJobEvents() {
  const sub = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const events = { active: null, progress: [], completed: null, failed: [] };
  let jobId = null;
  const pending = [];
  const handle = (channel, message, at) => {
    if (channel === `${BULL_PREFIX}:active`) {
      if (message === jobId && events.active === null) events.active = at;
    } else {
      let m;
      try {
        m = JSON.parse(message);
      } catch {
        return;
      }
      if (String(m.jobId) !== jobId) return;
      if (channel === `${BULL_PREFIX}:progress`) events.progress.push({ at, progress: m.progress });
      else if (channel === `${BULL_PREFIX}:completed`) events.completed = at;
      else if (channel === `${BULL_PREFIX}:failed`) events.failed.push({ at, reason: m.val });
    }
  };
  const onMessage = (channel, message) => {
    const at = now();
    if (jobId === null) pending.push([channel, message, at]);
    else handle(channel, message, at);
  };
  sub.on('message', onMessage);
  // moveToActive publishes the job id on `<prefix>:active@<token of the worker's queue>`
  sub.on('pmessage', (_pattern, channel, message) => onMessage(channel.replace(/@.*$/, ''), message));
  await sub.subscribe(`${BULL_PREFIX}:progress`, `${BULL_PREFIX}:completed`, `${BULL_PREFIX}:failed`);
  await sub.psubscribe(`${BULL_PREFIX}:active@*`);
  return {
    events,
    /** The job id is known only once the card exists; events seen before are replayed. */
    setJobId(id) {
      jobId = id;
      for (const [c, m, at] of pending.splice(0)) handle(c, m, at);
    },
    close: () => sub.disconnect(),
  };
}

// ---------- the invariant ----------

async function checkInvariant(db, cardId, generateId, n) {
  const codes = (
    await db.query(
      `SELECT count(*)::bigint AS rows, count(DISTINCT card_code)::bigint AS distinct_codes,
            count(DISTINCT slot)::bigint AS distinct_slots, min(slot)::bigint AS min_slot, max(slot)::bigint AS max_slot,
            count(*) FILTER (WHERE card_code !~ '^[1-9][0-9]{18}$')::bigint AS bad_shape,
            count(*) FILTER (WHERE generate_id <> $3)::bigint AS other_job
       FROM card.card_code WHERE crm_id = $1 AND card_id = $2`,
      [CRM_ID, cardId, generateId],
    )
  ).rows[0];
  const tenantDupes = (
    await db.query(`SELECT count(*)::bigint AS d FROM (SELECT card_code FROM card.card_code WHERE crm_id = $1 GROUP BY card_code HAVING count(*) > 1) x`, [
      CRM_ID,
    ])
  ).rows[0].d;
  const card = (await db.query(`SELECT total_quantity, generated_count, next_slot FROM card.card_info WHERE crm_id = $1 AND card_id = $2`, [CRM_ID, cardId]))
    .rows[0];
  const gen = (
    await db.query(`SELECT card_num, generated, rejected, status, is_generated FROM card.card_generate WHERE crm_id = $1 AND generate_id = $2`, [
      CRM_ID,
      generateId,
    ])
  ).rows[0];
  const v = (x) => Number(x);
  const checks = [
    ['codes of the card = N', v(codes.rows) === n, `${codes.rows}`],
    ['distinct codes = N', v(codes.distinct_codes) === n, `${codes.distinct_codes}`],
    [
      'slots are exactly 1..N',
      v(codes.distinct_slots) === n && v(codes.min_slot) === 1 && v(codes.max_slot) === n,
      `distinct ${codes.distinct_slots}, min ${codes.min_slot}, max ${codes.max_slot}`,
    ],
    ['codes are 19-digit numeric', v(codes.bad_shape) === 0, `${codes.bad_shape} bad`],
    ['codes belong to the job', v(codes.other_job) === 0, `${codes.other_job} from another generate_id`],
    ['no code twice in the tenant', v(tenantDupes) === 0, `${tenantDupes} repeated`],
    [
      'job record done, generated = N',
      !!gen && gen.is_generated && gen.status === 'done' && v(gen.generated) === n && v(gen.rejected) === 0,
      gen ? `${gen.status}, generated ${gen.generated}, rejected ${gen.rejected}` : 'missing',
    ],
    [
      'card counters = N (total, generated, next_slot N+1)',
      !!card && v(card.total_quantity) === n && v(card.generated_count) === n && v(card.next_slot) === n + 1,
      card ? `total ${card.total_quantity}, generated ${card.generated_count}, next_slot ${card.next_slot}` : 'missing',
    ],
  ];
  return { ok: checks.every((c) => c[1]), checks };
}

// ---------- main ----------

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const n = opts.quantity;
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-stock-'));
  const rootKey = `root-${randomBytes(12).toString('hex')}`;
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const startedAt = new Date();

  console.log(`bench:stock  N=${fmt(n)}  batch=${opts.batchSize ?? 'default (STOCK_BATCH_SIZE unset: 20,000)'}  db=${DB_NAME}  redis db=${REDIS_DB}`);
  console.log(
    `machine: ${os.cpus().length} cpu (${os.cpus()[0].model.trim()}), load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}, node ${process.version}`,
  );
  console.log(`logs: ${logDir}`);

  await resetStores();
  const env = appEnv({ databaseUrl: DATABASE_URL, redisUrl: REDIS_URL, rootKey, port }, opts.batchSize ? { STOCK_BATCH_SIZE: String(opts.batchSize) } : {});
  const procs = [spawnApp('gateway', env, logDir), spawnApp('card-service', env, logDir)];
  console.log(`dist: gateway ${sha(procs[0].main)}, card-service ${sha(procs[1].main)} (sha256 prefix of main.js)`);
  const bootT0 = now();
  await waitForHealth(base, procs);
  console.log(`apps up in ${secs(now() - bootT0)} (gateway pid ${procs[0].child.pid}, card-service pid ${procs[1].child.pid})`);

  const db = new Client({ connectionString: DATABASE_URL, application_name: 'bench-stock' });
  await db.connect();
  try {
    const settings = await pgSettings(db);
    const pgVersion = (await db.query('SHOW server_version')).rows[0].server_version;

    // 1. the floor, then an empty table again for the job
    process.stdout.write(`floor: INSERT ... SELECT ... generate_series(1, ${fmt(n)}) ... `);
    const floor = await measureFloor(db, n);
    console.log(`${secs(floor.ms)}, ${fmt(floor.rate)} rows/s`);
    await db.query('TRUNCATE card.card_code');
    await db.query('CHECKPOINT');

    // 2. the job through the real queue
    const listener = await listenJobEvents();
    const body = cardBody(n);
    const cpu = await cpuSnapshot(
      db,
      procs.map((p) => ({ pid: p.child.pid, group: p.app })),
    );
    const t0 = now();
    const created = await call(base, rootKey, 'POST', `/api/crm/card/${CRM_ID}/create`, body);
    const tCreated = now();
    if (created.status !== 200 || created.body.code !== 0)
      throw new Error(`create answered HTTP ${created.status}: ${JSON.stringify(created.body).slice(0, 300)}`);
    const cardId = created.body.data.card_id;
    const generateId = `init-${cardId}`;
    listener.setJobId(`${CRM_ID}.${generateId}`);
    console.log(`job: card ${cardId} created in ${secs(tCreated - t0)}; polling stock/status every ${opts.pollMs} ms`);

    let status = null;
    let polls = 0;
    let lastShown = -1;
    const until = Date.now() + opts.timeoutS * 1000;
    for (;;) {
      const res = await call(base, rootKey, 'GET', `/api/crm/card/${CRM_ID}/stock/status?generate_id=${generateId}`);
      polls++;
      if (res.body.code !== 0) throw new Error(`stock/status answered ${JSON.stringify(res.body).slice(0, 300)}`);
      status = res.body.data;
      if (status.is_generated) break;
      if (status.status === 'failed') break;
      const pct = Math.floor((status.progress || 0) * 10);
      if (pct !== lastShown && process.stdout.isTTY) {
        process.stdout.write(`\r  ${fmt(status.generated)} / ${fmt(n)}`);
        lastShown = pct;
      }
      if (Date.now() > until) throw new Error(`job not done after ${opts.timeoutS} s: ${JSON.stringify(status)}`);
      for (const p of procs) {
        if (p.child.exitCode !== null || p.child.signalCode !== null) throw new Error(`${p.app} died during the job; see ${p.logFile}`);
      }
      await sleep(opts.pollMs);
    }
    const tDone = now();
    const jobCpu = await cpu.diff();
    if (process.stdout.isTTY) process.stdout.write('\r');
    if (status.status !== 'done') throw new Error(`job ended ${status.status}: ${status.error}`);
    // the completed event is published in the same Lua call that ends the job; give it a moment
    for (let i = 0; i < 40 && listener.events.completed === null; i++) await sleep(25);
    listener.close();
    const ev = listener.events;

    // 3. the invariant
    const inv = await checkInvariant(db, cardId, generateId, n);

    // 4. summary
    const e2eMs = tDone - tCreated;
    const e2eRate = n / (e2eMs / 1000);
    const jobMs = ev.active !== null && ev.completed !== null ? ev.completed - ev.active : null;
    const firstProgress = ev.progress.length ? ev.progress[0] : null;
    const batch = opts.batchSize ?? 20_000;
    const firstBatch = Math.min(batch, n);
    const steadyMs = firstProgress && ev.completed !== null && ev.progress.length > 1 ? ev.completed - firstProgress.at : null;
    const steadyRate = steadyMs ? (n - firstBatch) / (steadyMs / 1000) : null;
    const ratio = e2eRate / floor.rate;
    const cpus = os.cpus().length;

    const line = (k, v) => console.log(`  ${k.padEnd(34)} ${v}`);
    console.log('');
    console.log('================ bench:stock summary ================');
    line('date', startedAt.toISOString());
    line(
      'machine',
      `${cpus} cores, load ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')} (after), PostgreSQL ${pgVersion}, node ${process.version}`,
    );
    line('postgres settings', settings);
    line('codes (N)', fmt(n));
    line('batch size (STOCK_BATCH_SIZE)', fmt(batch));
    line('floor: INSERT..SELECT generate_series', `${secs(floor.ms)}  ->  ${fmt(floor.rate)} rows/s`);
    line('job: create answer -> is_generated', `${secs(e2eMs)}  ->  ${fmt(e2eRate)} codes/s  (poll ${opts.pollMs} ms, ${polls} polls)`);
    line('job: Bull active -> completed', jobMs === null ? 'n/a (events missed)' : `${secs(jobMs)}  ->  ${fmt(n / (jobMs / 1000))} codes/s`);
    line(
      'job: first progress -> completed',
      steadyMs === null
        ? 'n/a (one batch only)'
        : `${secs(steadyMs)}  ->  ${fmt(steadyRate)} codes/s  (${fmt(n - firstBatch)} codes after the first batch, ${ev.progress.length} progress events)`,
    );
    line(
      'create answer -> Bull active',
      ev.active === null ? 'n/a' : `${secs(ev.active - tCreated)}${ev.active < tCreated ? ' (job started before the answer arrived)' : ''}`,
    );
    line('CPU s in the floor', fmtCpu(floor.cpu));
    line('CPU s in the job', `${fmtCpu(jobCpu)}  (pg:card-service = its PostgreSQL backends)`);
    line('ratio codes/s / floor rows/s', `${ratio.toFixed(2)}  (target >= 0.50: ${ratio >= 0.5 ? 'MET' : 'NOT MET'})`);
    if (ev.failed.length) line('failed attempts (retried)', ev.failed.map((f) => f.reason).join('; '));
    console.log('  invariant:');
    for (const [name, ok, detail] of inv.checks) console.log(`    [${ok ? 'ok' : 'FAIL'}] ${name} (${detail})`);
    line('invariant', inv.ok ? 'HOLDS' : 'BROKEN');
    line('logs', logDir);
    console.log('=====================================================');
    console.log(
      `RESULT quantity=${n} batch=${batch} codes_per_s=${Math.round(e2eRate)} job_codes_per_s=${jobMs ? Math.round(n / (jobMs / 1000)) : 'na'} ` +
        `floor_rows_per_s=${Math.round(floor.rate)} ratio=${ratio.toFixed(3)} invariant=${inv.ok ? 'ok' : 'broken'}`,
    );
    return inv.ok ? 0 : 1;
  } finally {
    await db.end().catch(() => undefined);
  }
}

/** The example card of libs/domain (as the tests use it), system codes. */
function cardBody(totalQuantity) {
  return { ...EXAMPLE_CARD, title: 'bench stock', total_quantity: totalQuantity };
}

lib.runMain('bench:stock', main);
