#!/usr/bin/env node
'use strict';
/**
 * bench:claim — the flash sale: one card with N codes, M distinct members claiming through
 * the gateway's HTTP API at high concurrency, against the PostgreSQL floor of the same claim.
 *
 *   node bench/claim.js [--codes N] [--members N] [--requests N] [--get-limit N]
 *                       [--connections N] [--floor-claims N] [--card-replicas N] [--plain 0|1] [--webhooks 0|1|2]
 *   (npm run bench:claim builds dist first, then runs this)
 *   CI smoke: node bench/claim.js --codes 3000 --members 300 --requests 3500 --floor-claims 2000
 *
 * What it does, in order:
 *   1. drops and creates the database `bench_claim`, flushes Redis logical db 13;
 *   2. boots the gateway and --card-replicas card-service processes from dist/ (logs in a temp
 *      dir), waits until /health reports PostgreSQL, Redis and that many card instances up
 *      (card-service's migrations make the schema);
 *   3. creates two cards through the API (date_type 3, generate_type 1, --get-limit): the
 *      floor's card with ceil(floor-claims * 1.1) codes and the sale's card with --codes codes,
 *      and polls stock/status until both are generated;
 *   4. floor (apps idle, after a CHECKPOINT): --floor-claims claims of 1 code done directly in
 *      PostgreSQL, one transaction per claim, statement by statement as card-service would
 *      (insert member_receive, lock card_info, read member_card_record, move claim_slot, take
 *      the slot's code into member_card_code, upsert member_card_record), each a prepared
 *      statement, by --connections clients at once; members drawn like the load's;
 *   5. load, twice (after a CHECKPOINT each): the ops cost. First through the gateway as
 *      deployed (access log and per-key rate limits on) on the sale card, then through a
 *      second, plain gateway (ACCESS_LOG=false, rate limits off: RATE_LIMIT_*_PER_MIN=0) on a
 *      third card of --codes codes (the first load warms the services: the order favours the plain run); both with the same client key, sharing the card-service
 *      processes; metrics are observed in both (prom-client has no off switch). --plain 0
 *      skips the plain run. Each load: a second process (bench/claim-load.js) runs autocannon
 *      with --connections connections and --requests requests, each
 *      POST /api/crm/card/<crm>/member/receive with a unique received_id and a random member
 *      m0..m<members-1>, asking 1 code of the card; answers are classified by the envelope's
 *      code (0, 40903 out of stock, 40904 get_limit reached, anything else an error);
 *   6. checks the invariants of both cards in the database (no code twice, none over stock or
 *      get_limit, counters agree, the load's successes match the rows);
 *   7. prints a summary, stops the children; exit 1 if an invariant fails, 2 on error
 *      (including a load in which no claim succeeded: nothing was measured).
 *
 * claims/s = successful claims / wall time of the load (first request sent to last answer).
 * --webhooks 0 (default): no webhook-service. Each claim still writes its webhook outbox row,
 * and card-service's forwarder fails to hand them over every few seconds (it holds nothing
 * in PostgreSQL while it waits): the webhooks' cost is the outbox row alone. For the cost
 * against the code before webhooks existed, run this script of commit d215973 (a worktree,
 * `npm ci && npm run build`) alternately with this one (docs/benchmarks.md).
 * --webhooks 1: webhook-service runs too, the tenant subscribes a local receiver to
 * coupon.claimed, and every claim's event must reach it (counted after the loads): the
 * claims/s then include the webhooks' whole cost on this machine.
 * --webhooks 2: the same, but with the delivery workers elsewhere: during the loads
 * webhook-service runs only its api role (the forwarded events are ingested, each event
 * and its delivery written in PostgreSQL), and a worker-role webhook-service is started
 * after the loads to deliver them all. The claims/s then include what the sale itself
 * pays for webhooks (the outbox rows, the forwarding, the ingest), not the deliveries,
 * whose workers scale out on machines of their own.
 *
 * ratio = end-to-end claims/s / floor claims/s (the gateway as deployed);
 * ops cost = 1 - claims/s as deployed / claims/s of the plain gateway, same run.
 *
 * Environment: BENCH_PG_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres),
 * BENCH_REDIS_URL (default redis://127.0.0.1:6379). DB_POOL_SIZE (default 10),
 * RPC_CONCURRENCY, RPC_TIMEOUT_MS and CLAIM_BATCH_MAX are passed to the apps when set.
 */
const { createHash, randomBytes } = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Client } = require('pg');
const EXAMPLE_CARD = require('../libs/domain/src/card/card.example.json');
const lib = require('./lib');

const { appEnv, runLoad, sleep, now, fmt, secs, freePort, sha, fmtCpu, spawnApp, isGone, call, waitForHealth, pgSettings } = lib;
const DB_NAME = 'bench_claim';
const REDIS_DB = 13;
const CRM_ID = 'crm_bench';
const DATABASE_URL = lib.databaseUrl(DB_NAME);
const REDIS_URL = lib.redisUrl(REDIS_DB);
const LOAD_TIMEOUT_S = 15; // autocannon's per-request timeout: above the gateway's RPC deadline (10 s), so its own answer is seen
const TARGET = { claimsPerS: 2000, p99Ms: 200, ratio: 1.0 };

// ---------- options ----------

const USAGE =
  'usage: node bench/claim.js [--codes N] [--members N] [--requests N] [--get-limit N] [--connections N] [--floor-claims N] [--card-replicas N] [--plain 0|1] [--webhooks 0|1|2]';

function parseArgs(argv) {
  const opts = lib.parseOptions(argv, {
    usage: USAGE,
    defaults: {
      codes: 100_000,
      members: 10_000,
      requests: 110_000,
      getLimit: 12,
      connections: 64,
      floorClaims: 20_000,
      cardReplicas: 1,
      plain: 1,
      webhooks: 0,
    },
    flags: {
      '--codes': 'codes',
      '--members': 'members',
      '--requests': 'requests',
      '--get-limit': 'getLimit',
      '--connections': 'connections',
      '--floor-claims': 'floorClaims',
      '--card-replicas': 'cardReplicas',
      '--plain': 'plain',
      '--webhooks': 'webhooks',
    },
    counts: ['plain', 'webhooks'], // 0 is a choice here
  });
  if (opts.codes > 10_000_000) throw new Error('--codes is at most 10,000,000 (MAX_TOTAL_QUANTITY)');
  if (Math.ceil(opts.floorClaims * 1.1) > 10_000_000) throw new Error('--floor-claims is at most 9,000,000');
  if (opts.getLimit > 32767) throw new Error('--get-limit is at most 32767');
  if (opts.connections > opts.requests) throw new Error('--connections cannot be more than --requests');
  if (opts.connections > opts.floorClaims) throw new Error('--connections cannot be more than --floor-claims');
  if (opts.plain !== 0 && opts.plain !== 1) throw new Error('--plain is 0 or 1');
  if (![0, 1, 2].includes(opts.webhooks)) throw new Error('--webhooks is 0, 1 or 2');
  return opts;
}

// ---------- shared helpers (bench/lib.js), bound to this run's database ----------

const cpuSnapshot = (db, named) => lib.cpuSnapshot(db, DB_NAME, named);
const resetStores = () => lib.resetStores(DB_NAME, REDIS_URL);
lib.stopOnSignals();

const { percentiles, ms } = lib;

// ---------- a merchant's webhook endpoint (--webhooks 1) ----------

/** A local endpoint that answers 204 and keeps the distinct webhook-ids it got. */
async function startReceiver() {
  const http = require('node:http');
  const ids = new Set();
  const state = { ids, posts: 0 };
  const server = http.createServer((req, res) => {
    state.posts++;
    ids.add(req.headers['webhook-id']);
    req.resume();
    req.on('end', () => res.writeHead(204).end());
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  state.url = `http://127.0.0.1:${server.address().port}/hook`;
  state.close = () => server.close();
  return state;
}

// ---------- cards through the API ----------

/** The example card of libs/domain, permanent (date_type 3), system codes, the run's get_limit. */
function cardBody(title, totalQuantity, getLimit) {
  const body = { ...EXAMPLE_CARD, title, total_quantity: totalQuantity, get_limit: getLimit, date_type: 3, generate_type: 1 };
  delete body.begin_time;
  delete body.end_time;
  return body;
}

async function createCard(base, key, body) {
  const res = await call(base, key, 'POST', `/api/crm/card/${CRM_ID}/create`, body);
  if (res.status !== 200 || res.body.code !== 0) throw new Error(`create answered HTTP ${res.status}: ${JSON.stringify(res.body).slice(0, 300)}`);
  return res.body.data.card_id;
}

async function waitGenerated(base, key, cardId, procs, limitS = 900) {
  const generateId = `init-${cardId}`;
  const until = Date.now() + limitS * 1000;
  for (;;) {
    const res = await call(base, key, 'GET', `/api/crm/card/${CRM_ID}/stock/status?generate_id=${generateId}`);
    if (res.body.code !== 0) throw new Error(`stock/status answered ${JSON.stringify(res.body).slice(0, 300)}`);
    const s = res.body.data;
    if (s.is_generated) {
      if (s.status !== 'done') throw new Error(`stock of ${cardId} ended ${s.status}: ${s.error}`);
      return s;
    }
    if (s.status === 'failed') throw new Error(`stock of ${cardId} failed: ${s.error}`);
    if (Date.now() > until) throw new Error(`stock of ${cardId} not generated after ${limitS} s: ${JSON.stringify(s)}`);
    for (const p of procs) if (isGone(p)) throw new Error(`${p.app} died while generating; see ${p.logFile}`);
    await sleep(100);
  }
}

// ---------- the floor: the claim done directly in PostgreSQL ----------

const SQL = {
  receive: `
    INSERT INTO card.member_receive (crm_id, received_id, member_no, out_str, card_info, payload_hash, received_time)
    VALUES ($1, $2, $3, 'bench', $4, $5, now()) ON CONFLICT DO NOTHING RETURNING received_id`,
  lockCard: `
    SELECT removed, date_type, get_limit, next_slot, claim_slot FROM card.card_info
     WHERE crm_id = $1 AND card_id = $2 FOR UPDATE`,
  record: `SELECT received_sum FROM card.member_card_record WHERE crm_id = $1 AND card_id = $2 AND member_no = $3`,
  moveSlot: `
    UPDATE card.card_info SET claim_slot = claim_slot + 1, received_count = received_count + 1, update_time = now()
     WHERE crm_id = $1 AND card_id = $2`,
  take: `
    WITH taken AS (UPDATE card.card_code SET card_code_status = 1, member_no = $4, update_time = now()
                    WHERE crm_id = $1 AND card_id = $3 AND slot = $5 RETURNING card_code)
    INSERT INTO card.member_card_code (crm_id, received_id, card_id, member_no, card_code, begin_time, end_time, out_str, code_status, received_time)
    SELECT $1, $2, $3, $4, card_code, now(), NULL, 'bench', 1, now() FROM taken RETURNING card_code`,
  upsertRecord: `
    INSERT INTO card.member_card_record (crm_id, card_id, member_no, received_sum) VALUES ($1, $2, $3, 1)
    ON CONFLICT (crm_id, card_id, member_no)
    DO UPDATE SET received_sum = card.member_card_record.received_sum + 1, update_time = now()`,
};

/**
 * A statement of SQL by name, prepared once per connection (node-postgres names it): the
 * floor pays no parse and plan per claim, so it is the best this claim shape gets from the
 * database (the apps' driver sends unnamed statements).
 */
const run = (c, name, values) => c.query({ name: `claim-${name}`, text: SQL[name], values });

/** One claim of 1 code: 'ok', 'outOfStock', 'limit', 'refused' or 'duplicate'; throws on a database error (rolled back). */
async function floorClaim(c, cardId, memberNo, receivedId) {
  const cardInfo = JSON.stringify({ [cardId]: 1 });
  const hash = createHash('sha256')
    .update(JSON.stringify({ member_no: memberNo, out_str: 'bench', card_info: { [cardId]: 1 } }))
    .digest('hex');
  await c.query('BEGIN');
  try {
    const ins = await run(c, 'receive', [CRM_ID, receivedId, memberNo, cardInfo, hash]);
    if (ins.rowCount !== 1) return rollback(c, 'duplicate');
    const card = (await run(c, 'lockCard', [CRM_ID, cardId])).rows[0];
    if (!card || card.removed) return rollback(c, 'refused');
    const rec = (await run(c, 'record', [CRM_ID, cardId, memberNo])).rows[0];
    const pool = Number(card.next_slot) - Number(card.claim_slot);
    const sum = rec ? Number(rec.received_sum) : 0;
    if (pool < 1) return rollback(c, 'outOfStock');
    if (card.get_limit > 0 && sum + 1 > card.get_limit) return rollback(c, 'limit');
    await run(c, 'moveSlot', [CRM_ID, cardId]);
    const took = await run(c, 'take', [CRM_ID, receivedId, cardId, memberNo, card.claim_slot]);
    if (took.rowCount !== 1) throw new Error(`slot ${card.claim_slot} of ${cardId} gave ${took.rowCount} codes`);
    await run(c, 'upsertRecord', [CRM_ID, cardId, memberNo]);
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

async function measureFloor(db, cardId, opts, runTag, named) {
  const lanes = [];
  for (let i = 0; i < opts.connections; i++) {
    const c = new Client({ connectionString: DATABASE_URL, application_name: 'bench-claim-floor' });
    await c.connect();
    lanes.push(c);
  }
  try {
    await db.query('CHECKPOINT');
    const cpu = await cpuSnapshot(db, named);
    const counts = { ok: 0, outOfStock: 0, limit: 0, refused: 0, duplicate: 0, error: 0 };
    const errors = {};
    const lat = []; // every transaction that ended in COMMIT or a business ROLLBACK
    let next = 0;
    const t0 = now();
    await Promise.all(
      lanes.map(async (c) => {
        while (next < opts.floorClaims) {
          const k = next++;
          const member = `m${Math.floor(Math.random() * opts.members)}`;
          const s = now();
          try {
            const outcome = await floorClaim(c, cardId, member, `${runTag}-floor-${k}`);
            counts[outcome]++;
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
    return { wallMs, rate: counts.ok / (wallMs / 1000), counts, errors, latency: percentiles(lat), cpu: cpuUsed };
  } finally {
    await Promise.all(lanes.map((c) => c.end().catch(() => undefined)));
  }
}

// ---------- the load: autocannon in a second process ----------

// ---------- the invariants ----------

/**
 * The invariants of one card, read from the database. `expectedOk` is the successes counted
 * by whoever claimed (the HTTP load or the floor); it must equal the claims found, or be at
 * most that when some requests got no answer (a timed-out request may still have committed).
 */
async function checkCard(db, cardId, { codes, getLimit, expectedOk, okExact, expectEmpty }) {
  const q = async (sql) => (await db.query(sql, [CRM_ID, cardId])).rows[0];
  const held = await q(`
    SELECT count(*) FILTER (WHERE is_reversed = 0 AND code_status <> 6)::bigint AS live,
           count(DISTINCT card_code) FILTER (WHERE is_reversed = 0 AND code_status <> 6)::bigint AS live_distinct,
           count(*)::bigint AS rows, count(DISTINCT card_code)::bigint AS distinct_codes,
           count(DISTINCT received_id)::bigint AS claims
      FROM card.member_card_code WHERE crm_id = $1 AND card_id = $2`);
  const members = await q(`
    WITH held AS (SELECT member_no, count(*) AS n FROM card.member_card_code
                   WHERE crm_id = $1 AND card_id = $2 AND is_reversed = 0 AND code_status <> 6 GROUP BY member_no),
         rec AS (SELECT member_no, received_sum FROM card.member_card_record WHERE crm_id = $1 AND card_id = $2)
    SELECT count(*)::bigint AS members, coalesce(max(coalesce(held.n, 0)), 0)::bigint AS max_held,
           count(*) FILTER (WHERE coalesce(held.n, 0) <> coalesce(rec.received_sum, 0))::bigint AS mismatched,
           count(*) FILTER (WHERE coalesce(held.n, 0) = (SELECT get_limit FROM card.card_info WHERE crm_id = $1 AND card_id = $2))::bigint AS at_limit
      FROM held FULL JOIN rec USING (member_no)`);
  const card = await q(`
    SELECT total_quantity, generated_count, received_count, next_slot, claim_slot, get_limit
      FROM card.card_info WHERE crm_id = $1 AND card_id = $2`);
  const pool = await q(`
    SELECT count(*) FILTER (WHERE card_code_status = 1)::bigint AS issued, count(*)::bigint AS codes
      FROM card.card_code WHERE crm_id = $1 AND card_id = $2`);
  const stray = await q(`
    SELECT count(*) FILTER (WHERE c.card_code IS NULL OR c.card_code_status <> 1)::bigint AS not_issued,
           count(*) FILTER (WHERE c.member_no IS DISTINCT FROM m.member_no)::bigint AS other_member
      FROM card.member_card_code m
      LEFT JOIN card.card_code c ON c.crm_id = m.crm_id AND c.card_id = m.card_id AND c.card_code = m.card_code
     WHERE m.crm_id = $1 AND m.card_id = $2 AND m.is_reversed = 0 AND m.code_status <> 6`);
  const orphans = await q(`
    SELECT count(DISTINCT m.received_id)::bigint AS n FROM card.member_card_code m
     WHERE m.crm_id = $1 AND m.card_id = $2
       AND NOT EXISTS (SELECT 1 FROM card.member_receive r WHERE r.crm_id = m.crm_id AND r.received_id = m.received_id)`);
  const v = Number;
  const live = v(held.live);
  const claims = v(held.claims);
  const poolLeft = card ? v(card.next_slot) - v(card.claim_slot) : null;
  const checks = [
    [
      'no code held twice (distinct codes = live rows)',
      v(held.live_distinct) === live && v(held.distinct_codes) === v(held.rows),
      `${held.live_distinct} distinct / ${live} live rows; ${held.distinct_codes} distinct / ${held.rows} rows`,
    ],
    [
      'issued <= stock',
      !!card && live <= codes && live <= v(card.total_quantity),
      card ? `${live} issued, stock ${codes} (total_quantity ${card.total_quantity})` : 'card missing',
    ],
    [
      'every member <= get_limit',
      v(members.max_held) <= getLimit,
      `max ${members.max_held} per member, limit ${getLimit}; ${members.at_limit} of ${members.members} members at the limit`,
    ],
    ['every member: live rows = received_sum', v(members.mismatched) === 0, `${members.mismatched} members differ`],
    ['card_info.received_count = live rows', !!card && v(card.received_count) === live, card ? `${card.received_count} vs ${live}` : 'card missing'],
    [
      'generated_count = pool + received_count',
      !!card && v(card.generated_count) === poolLeft + v(card.received_count),
      card ? `${card.generated_count} = ${poolLeft} + ${card.received_count}` : 'card missing',
    ],
    [
      'card_code issued (status 1) = received_count',
      !!card && v(pool.issued) === v(card.received_count),
      card ? `${pool.issued} vs ${card.received_count}` : 'card missing',
    ],
    [
      'every held code is an issued code of the card',
      v(stray.not_issued) === 0,
      `${stray.not_issued} not issued${v(stray.other_member) ? `; ${stray.other_member} with another card_code.member_no` : ''}`,
    ],
    ['every claim with a code has its member_receive', v(orphans.n) === 0, `${orphans.n} without`],
    ['one code per claim (claims = live rows)', claims === live, `${claims} claims, ${live} rows`],
    [
      okExact ? 'successes counted = claims in the database' : 'successes counted <= claims in the database (errors seen)',
      okExact ? expectedOk === claims : expectedOk <= claims,
      `${expectedOk} counted, ${claims} in the database`,
    ],
  ];
  if (expectEmpty) checks.push(['pool empty (more asked than stock)', poolLeft === 0, `${poolLeft} left`]);
  return { ok: checks.every((c) => c[1]), checks, live, claims, poolLeft, card, members: v(members.members), atLimit: v(members.at_limit) };
}

// ---------- main ----------

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-claim-'));
  const rootKey = `root-${randomBytes(12).toString('hex')}`;
  const runTag = `b${randomBytes(4).toString('hex')}`;
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const startedAt = new Date();
  const floorStock = Math.ceil(opts.floorClaims * 1.1);

  console.log(
    `bench:claim  codes=${fmt(opts.codes)}  members=${fmt(opts.members)}  requests=${fmt(opts.requests)}  get_limit=${opts.getLimit}  ` +
      `connections=${opts.connections}  floor claims=${fmt(opts.floorClaims)}  card replicas=${opts.cardReplicas}  db=${DB_NAME}  redis db=${REDIS_DB}`,
  );
  console.log(lib.machineLine());
  console.log(`logs: ${logDir}`);

  await resetStores();
  const pass = (name) => (process.env[name] ? { [name]: process.env[name] } : {});
  const env = appEnv(
    { databaseUrl: DATABASE_URL, redisUrl: REDIS_URL, rootKey, port },
    {
      ...pass('DB_POOL_SIZE'),
      ...pass('RPC_CONCURRENCY'),
      ...pass('RPC_TIMEOUT_MS'),
      ...pass('CLAIM_BATCH_MAX'),
    },
  );
  const gateway = spawnApp('gateway', env, logDir);
  // The same gateway without the ops surface's per-request work: no access log, no rate limits.
  const plainPort = await freePort();
  const plainBase = `http://127.0.0.1:${plainPort}`;
  const plain = opts.plain
    ? spawnApp(
        'gateway',
        { ...env, PORT: String(plainPort), ACCESS_LOG: 'false', RATE_LIMIT_CLIENT_PER_MIN: '0', RATE_LIMIT_ADMIN_PER_MIN: '0' },
        logDir,
        'gateway-plain',
      )
    : null;
  const cards = [];
  for (let i = 1; i <= opts.cardReplicas; i++)
    cards.push(spawnApp('card-service', env, logDir, opts.cardReplicas === 1 ? 'card-service' : `card-service-${i}`));
  const webhookEnv = { ...env, WEBHOOK_ALLOW_PRIVATE_HOSTS: 'true' };
  const webhookService = opts.webhooks ? spawnApp('webhook-service', opts.webhooks === 2 ? { ...webhookEnv, ROLE: 'api' } : webhookEnv, logDir) : null;
  const receiver = opts.webhooks ? await startReceiver() : null;
  const procs = [gateway, ...(plain ? [plain] : []), ...cards, ...(webhookService ? [webhookService] : [])];
  console.log(`dist: gateway ${sha(gateway.main)}, card-service ${sha(cards[0].main)} (sha256 prefix of main.js)`);
  const bootT0 = now();
  await waitForHealth(base, procs, 90_000, { service: 'card', instances: opts.cardReplicas });
  if (plain) await waitForHealth(plainBase, procs, 90_000, { service: 'card', instances: opts.cardReplicas });
  if (webhookService) await waitForHealth(base, procs, 90_000, { service: 'webhook', instances: 1 });
  console.log(`apps up in ${secs(now() - bootT0)} (${procs.map((p) => `${p.app} pid ${p.child.pid}`).join(', ')})`);

  const db = new Client({ connectionString: DATABASE_URL, application_name: 'bench-claim' });
  await db.connect();
  try {
    const settings = await pgSettings(db, ['max_connections', 'autovacuum']);
    const pgVersion = (await db.query('SHOW server_version')).rows[0].server_version;
    const room = (
      await db.query(
        `SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int
              - (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int AS free,
              (SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name IN ('gateway', 'card-service'))::int AS apps`,
        [DB_NAME],
      )
    ).rows[0];
    const appsToOpen = Math.max(0, (1 + opts.cardReplicas) * Number(env.DB_POOL_SIZE) - room.apps);
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

    // 1. the two cards, through the API
    const t0 = now();
    const floorCard = await createCard(base, rootKey, cardBody('bench claim floor', floorStock, opts.getLimit));
    const saleCard = await createCard(base, rootKey, cardBody('bench claim', opts.codes, opts.getLimit));
    const plainCard = plain ? await createCard(base, rootKey, cardBody('bench claim plain', opts.codes, opts.getLimit)) : null;
    for (const card of [floorCard, saleCard, plainCard]) if (card) await waitGenerated(base, rootKey, card, procs);
    console.log(
      `cards: floor ${floorCard} (${fmt(floorStock)} codes), sale ${saleCard}${plainCard ? ` and plain ${plainCard}` : ''} (${fmt(opts.codes)} codes), generated in ${secs(now() - t0)}`,
    );
    // A mini-program back end's key: the scope a flash sale's requests come with (the root key is never rate limited).
    const keyRes = await call(base, rootKey, 'POST', `/api/crm/keys/${CRM_ID}`, { scope: 'client' });
    if (keyRes.body.code !== 0) throw new Error(`issuing a client key answered ${JSON.stringify(keyRes.body).slice(0, 300)}`);
    const clientKey = keyRes.body.data.key;
    if (receiver) {
      const sub = await call(base, rootKey, 'POST', `/api/crm/webhooks/${CRM_ID}`, { url: receiver.url, events: ['coupon.claimed'] });
      if (sub.body.code !== 0) throw new Error(`subscribing answered ${JSON.stringify(sub.body).slice(0, 300)}`);
    }
    // The CI server runs with autovacuum off: give the planner what autoanalyze would have after the codes went in.
    await db.query('ANALYZE');

    const named = [{ pid: process.pid, group: 'bench' }, ...procs.map((p) => ({ pid: p.child.pid, group: p.app.replace(/-\d+$/, '') }))];

    // 2. the floor, apps idle
    process.stdout.write(`floor: ${fmt(opts.floorClaims)} claims in PostgreSQL, ${opts.connections} clients ... `);
    const floor = await measureFloor(db, floorCard, opts, runTag, named);
    console.log(`${secs(floor.wallMs)}, ${fmt(floor.rate)} claims/s`);
    if (floor.counts.error) console.log(`  floor errors: ${JSON.stringify(floor.errors)}`);

    // 3. the load through the gateway as deployed, then through the plain one
    const sale = async (label, url, cardId, tag) => {
      await db.query('CHECKPOINT');
      console.log(`load (${label}): ${fmt(opts.requests)} requests, ${opts.connections} connections (autocannon in a second process) ...`);
      let cpu = null;
      const run = await runLoad(
        'claim-load.js',
        {
          base: url,
          key: clientKey,
          crm: CRM_ID,
          cardId,
          members: opts.members,
          requests: opts.requests,
          connections: opts.connections,
          runTag: tag,
          timeoutS: LOAD_TIMEOUT_S,
        },
        procs,
        async (pid) => {
          cpu = await cpuSnapshot(db, [...named, { pid, group: 'load' }]);
        },
      );
      const runCpu = await cpu.diff();
      runCpu.load = (run.cpu.user + run.cpu.system) / 1e6; // gone by now: its own process.cpuUsage() at the end
      const errs = run.counts.otherAnswers + run.counts.noAnswer;
      const rate = run.counts.ok / (run.wallMs / 1000);
      console.log(`  ${secs(run.wallMs)}, ${fmt(rate)} claims/s, ${fmt(errs)} errors`);
      return { load: run, loadCpu: runCpu, errors: errs, claimsPerS: rate };
    };
    // As deployed first: the first load also warms the card-service and PostgreSQL, so the order favours the plain run (the cost shown is not understated).
    const { load, loadCpu, errors, claimsPerS } = await sale('gateway as deployed: access log, rate limits', base, saleCard, runTag);
    const plainRun = plainCard ? await sale('plain gateway: no access log, no rate limits', plainBase, plainCard, `${runTag}p`) : null;
    const c = load.counts;
    const requestsPerS = (c.ok + c.outOfStock + c.limit + c.otherAnswers) / (load.wallMs / 1000);
    const opsCost = plainRun ? 1 - claimsPerS / plainRun.claimsPerS : null;

    // 4. the invariants (statistics first: with autovacuum off the planner thinks these tables are empty and nests loops over 100k rows)
    await db.query('ANALYZE card.card_info, card.card_code, card.member_receive, card.member_card_record, card.member_card_code');
    const saleInv = await checkCard(db, saleCard, {
      codes: opts.codes,
      getLimit: opts.getLimit,
      expectedOk: c.ok,
      okExact: errors === 0,
      expectEmpty: opts.requests - c.limit - errors >= opts.codes || c.outOfStock > 0,
    });
    const floorInv = await checkCard(db, floorCard, {
      codes: floorStock,
      getLimit: opts.getLimit,
      expectedOk: floor.counts.ok,
      okExact: true,
      expectEmpty: false,
    });
    const plainInv = plainRun
      ? await checkCard(db, plainCard, {
          codes: opts.codes,
          getLimit: opts.getLimit,
          expectedOk: plainRun.load.counts.ok,
          okExact: plainRun.errors === 0,
          expectEmpty: opts.requests - plainRun.load.counts.limit - plainRun.errors >= opts.codes || plainRun.load.counts.outOfStock > 0,
        })
      : null;
    // Every claim through the API is one coupon.claimed event (one card per claim): all must reach the receiver.
    let hooks = null;
    if (receiver) {
      const expected = c.ok + (plainRun ? plainRun.load.counts.ok : 0);
      if (opts.webhooks === 2) {
        procs.push(spawnApp('webhook-service', { ...webhookEnv, ROLE: 'worker' }, logDir, 'webhook-worker'));
        console.log(`webhooks: ${fmt(receiver.ids.size)} delivered during the loads; the worker starts now`);
      }
      const t0 = now();
      while (receiver.ids.size < expected && now() - t0 < 300_000 && !procs.some(isGone)) await sleep(200);
      hooks = { expected, delivered: receiver.ids.size, posts: receiver.posts, drainS: (now() - t0) / 1000 };
      console.log(
        `webhooks: ${fmt(hooks.delivered)} of ${fmt(expected)} coupon.claimed events delivered (${fmt(hooks.posts)} POSTs), ${hooks.drainS.toFixed(1)} s after the loads`,
      );
      receiver.close();
    }
    const invOk = saleInv.ok && floorInv.ok && (plainInv?.ok ?? true) && (hooks === null || hooks.delivered === hooks.expected);

    // 5. summary
    const ratio = claimsPerS / floor.rate;
    const lat = load.latency;
    const latOk = load.latencyOk;
    const cpus = os.cpus().length;
    const met = (b) => (b ? 'MET' : 'NOT MET');
    const perS = load.perSecond.length > 2 ? load.perSecond.slice(0, -1) : load.perSecond; // the last second is partial
    const line = (k, v) => console.log(`  ${k.padEnd(34)} ${v}`);
    console.log('');
    console.log('================ bench:claim summary ================');
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
      `gateway + ${opts.cardReplicas} card-service, DB_POOL_SIZE=${env.DB_POOL_SIZE}${env.RPC_CONCURRENCY ? ` RPC_CONCURRENCY=${env.RPC_CONCURRENCY}` : ''}${env.RPC_TIMEOUT_MS ? ` RPC_TIMEOUT_MS=${env.RPC_TIMEOUT_MS}` : ''}`,
    );
    line(
      'sale',
      `${fmt(opts.codes)} codes, ${fmt(opts.members)} members, get_limit ${opts.getLimit}, ${fmt(opts.requests)} requests, ${opts.connections} connections`,
    );
    line('load wall time', `${secs(load.wallMs)} (first answer after ${secs(load.firstAnswerMs)}, last success at ${secs(load.lastOkMs)})`);
    line(
      'claims/s (end to end)',
      `${fmt(claimsPerS)}  (${fmt(c.ok)} claims / wall time; until the last success ${load.lastOkMs ? fmt(c.ok / (load.lastOkMs / 1000)) : 'n/a'})`,
    );
    line('claims/s per second', perS.length ? `min ${fmt(Math.min(...perS))}, max ${fmt(Math.max(...perS))} over ${perS.length} whole seconds` : 'n/a');
    line('requests/s (answered)', fmt(requestsPerS));
    line(
      'latency ms, all answers',
      `p50 ${ms(lat.p50)}  p95 ${ms(lat.p95)}  p99 ${ms(lat.p99)}  max ${ms(lat.max)}  (autocannon histogram: p50 ${load.autocannon.p50}, p99 ${load.autocannon.p99})`,
    );
    line('latency ms, successes', `p50 ${ms(latOk.p50)}  p95 ${ms(latOk.p95)}  p99 ${ms(latOk.p99)}  max ${ms(latOk.max)}`);
    line('answers', `ok ${fmt(c.ok)}, out of stock (40903) ${fmt(c.outOfStock)}, get_limit (40904) ${fmt(c.limit)}, errors ${fmt(errors)}`);
    if (c.otherAnswers) {
      line(
        '  other answers (status/code)',
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
    line('pool left', `${fmt(saleInv.poolLeft)} of ${fmt(opts.codes)}; ${fmt(saleInv.atLimit)} of ${fmt(saleInv.members)} members at get_limit`);
    line('floor: claims in PostgreSQL', `${fmt(floor.counts.ok)} in ${secs(floor.wallMs)}  ->  ${fmt(floor.rate)} claims/s`);
    line(
      'floor latency ms (transaction)',
      `p50 ${ms(floor.latency.p50)}  p95 ${ms(floor.latency.p95)}  p99 ${ms(floor.latency.p99)}  max ${ms(floor.latency.max)}`,
    );
    if (floor.counts.ok !== opts.floorClaims)
      line(
        'floor: not ok',
        Object.entries(floor.counts)
          .filter(([k, n]) => k !== 'ok' && n)
          .map(([k, n]) => `${k} ${fmt(n)}`)
          .join(', '),
      );
    line('CPU s in the floor', fmtCpu(floor.cpu));
    line('CPU s in the load', `${fmtCpu(loadCpu)}  (load = autocannon's process; pg:card-service = its PostgreSQL backends)`);
    line('ratio claims/s / floor claims/s', ratio.toFixed(2));
    if (plainRun) {
      const pl = plainRun.load.latency;
      line(
        'plain gateway (no log, no limits)',
        `${fmt(plainRun.claimsPerS)} claims/s, p99 ${ms(pl.p99)} ms, ratio ${(plainRun.claimsPerS / floor.rate).toFixed(2)}, errors ${fmt(plainRun.errors)}`,
      );
      line('ops cost (access log + rate limits)', `${(opsCost * 100).toFixed(1)}% of claims/s (as deployed / plain, same run)`);
    }
    line(
      'targets',
      `claims/s >= ${fmt(TARGET.claimsPerS)}: ${met(claimsPerS >= TARGET.claimsPerS)}; p99 < ${TARGET.p99Ms} ms: ${met(lat.p99 !== null && lat.p99 < TARGET.p99Ms)}; ratio >= ${TARGET.ratio.toFixed(1)}: ${met(ratio >= TARGET.ratio)}`,
    );
    console.log(`  invariants, sale card ${saleCard}:`);
    for (const [name, ok, detail] of saleInv.checks) console.log(`    [${ok ? 'ok' : 'FAIL'}] ${name} (${detail})`);
    if (plainInv) {
      console.log(`  invariants, plain card ${plainCard}:`);
      for (const [name, ok, detail] of plainInv.checks) console.log(`    [${ok ? 'ok' : 'FAIL'}] ${name} (${detail})`);
    }
    console.log(`  invariants, floor card ${floorCard}:`);
    for (const [name, ok, detail] of floorInv.checks) console.log(`    [${ok ? 'ok' : 'FAIL'}] ${name} (${detail})`);
    line('invariants', invOk ? 'HOLD' : 'BROKEN');
    line('logs', logDir);
    console.log('=====================================================');
    console.log(
      `RESULT codes=${opts.codes} members=${opts.members} requests=${opts.requests} connections=${opts.connections} card_replicas=${opts.cardReplicas} ` +
        `claims_per_s=${Math.round(claimsPerS)} requests_per_s=${Math.round(requestsPerS)} p50_ms=${ms(lat.p50)} p95_ms=${ms(lat.p95)} p99_ms=${ms(lat.p99)} ` +
        `ok=${c.ok} out_of_stock=${c.outOfStock} limit=${c.limit} errors=${errors} floor_claims_per_s=${Math.round(floor.rate)} ` +
        `floor_p50_ms=${ms(floor.latency.p50)} floor_p99_ms=${ms(floor.latency.p99)} ratio=${ratio.toFixed(3)} ` +
        `plain_claims_per_s=${plainRun ? Math.round(plainRun.claimsPerS) : 'n/a'} ops_cost_pct=${opsCost === null ? 'n/a' : (opsCost * 100).toFixed(1)} webhooks=${opts.webhooks} ` +
        `webhooks_delivered=${hooks ? hooks.delivered : 'n/a'} invariants=${invOk ? 'ok' : 'broken'}`,
    );
    if (!invOk) return 1;
    if (c.ok === 0 && opts.codes > 0) {
      console.error('\nbench:claim: no claim succeeded through the gateway, nothing was measured (is the member/receive route built? see the answers above)');
      return 2;
    }
    return 0;
  } finally {
    await db.end().catch(() => undefined);
  }
}

lib.runMain('bench:claim', main);
