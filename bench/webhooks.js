#!/usr/bin/env node
'use strict';
/**
 * bench:webhooks — deliveries/s from webhook-service to a local receiver, end to end: events
 * handed over as the services' forwarders do (webhook.ingest over the Redis-streams transport,
 * batches of 500), committed with their delivery rows, claimed by the worker from PostgreSQL,
 * POSTed signed, their outcome written; against the PostgreSQL floor of the same delivery work.
 *
 *   node bench/webhooks.js [--events N] [--members N] [--webhooks N] [--concurrency N] [--floor N]
 *   (npm run bench:webhooks builds dist first, then runs this)
 *   CI smoke: node bench/webhooks.js --events 2000
 *
 * What it does, in order:
 *   1. drops and creates the database `bench_webhooks`, flushes Redis logical db 11;
 *   2. boots the gateway and webhook-service (role both, WEBHOOK_CONCURRENCY = --concurrency,
 *      private hosts allowed) from dist/, waits until /health reports webhook-service up;
 *   3. starts the receiver, a node:http server in this process: it checks every request's
 *      Standard Webhooks signature (HMAC-SHA256 with the subscription's secret), records
 *      (subscription, webhook-id, arrival time) and answers 204;
 *   4. receiver raw rate (context): --events POSTs of a delivery's size from this process to
 *      the receiver, --concurrency at once, keep-alive: what the receiver and node's HTTP take
 *      without webhook-service and PostgreSQL;
 *   5. floor (apps idle): --floor deliveries (default --events x --webhooks) of a tenant of its
 *      own written directly in PostgreSQL (not timed, the ingest statement of
 *      DeliveryRepository), then claimed and finished directly in PostgreSQL with the
 *      worker's statements (4 lanes, each: DeliveryRepository.claim of a quarter of
 *      --concurrency, then DeliveryRepository.finish of those in one transaction, as the worker
 *      writes the outcomes ended since its last pass; DB_POOL_SIZE connections); their next_at lies a century ahead so the
 *      running worker never takes them, and the floor claims "at" that time;
 *   6. load: --webhooks subscriptions of tenant crm_bench to every event type (created through
 *      the gateway's HTTP API), then --events events over --members members (points.earned and
 *      coupon.claimed alternating) sent as webhook.ingest requests of 500, one after the
 *      other as one forwarder does; waits until every delivery reached the receiver;
 *   7. checks the invariants; prints a summary and a RESULT line; exit 1 if an invariant fails,
 *      2 on error.
 *
 * deliveries/s = deliveries received / (first ingest sent .. last delivery received). Latency
 * is per delivery, from its event's ingest answer (events committed) to its arrival.
 * floor deliveries/s = deliveries / wall time of the floor's claim+finish loop.
 *
 * The bench speaks the transport's wire protocol itself (libs/platform/src/transport/protocol.ts:
 * XADD to loyalty:rpc:webhook, the answer on its own pub/sub channel), as RedisStreamsClient
 * does; it cannot load the TypeScript client from a plain node script.
 *
 * Environment: BENCH_PG_ADMIN_URL, BENCH_REDIS_URL (see lib.js); DB_POOL_SIZE (default 10),
 * WEBHOOK_POLL_MS and LOG_LEVEL are passed to the apps when set.
 */
const { createHmac, randomBytes, randomUUID } = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { Client } = require('pg');
const Redis = require('ioredis');
const lib = require('./lib');

const { appEnv, waitForHealth, now, fmt, secs, freePort, sha, fmtCpu, spawnApp, pgSettings, percentiles, ms, call, cpuSnapshot } = lib;
const DB_NAME = 'bench_webhooks';
const REDIS_DB = 11;
const CRM_ID = 'crm_bench';
const FLOOR_CRM_ID = 'crm_bench_floor';
const DATABASE_URL = lib.databaseUrl(DB_NAME);
const REDIS_URL = lib.redisUrl(REDIS_DB);
const BATCH = 500; // WEBHOOK_EVENTS_PER_INGEST
const RPC_TIMEOUT_MS = 30_000;
const STALL_MS = 30_000;
const TYPES = ['points.earned', 'coupon.claimed'];
const ALL_TYPES = [
  'card.created',
  'card.stock_generated',
  'coupon.claimed',
  'coupon.claim_reversed',
  'coupon.gifted',
  'coupon.gift_accepted',
  'coupon.gift_returned',
  'coupon.redeemed',
  'coupon.redeem_reversed',
  'coupon.expired',
  'coupon.voided',
  'points.earned',
  'points.spent',
  'points.reversed',
  'points.expired',
  'points.transfer_sent',
  'points.transfer_accepted',
  'points.transfer_returned',
];

const USAGE = 'usage: node bench/webhooks.js [--events N] [--members N] [--webhooks N] [--concurrency N] [--floor N]';

function parseArgs(argv) {
  const opts = lib.parseOptions(argv, {
    defaults: { events: 20_000, members: 1_000, webhooks: 1, concurrency: 32, floor: 0 },
    flags: { '--events': 'events', '--members': 'members', '--webhooks': 'webhooks', '--concurrency': 'concurrency', '--floor': 'floor' },
    usage: USAGE,
  });
  if (!opts.floor) opts.floor = opts.events * opts.webhooks;
  return opts;
}

// ---------- the statements of webhook-service (apps/webhook-service/src/delivery/delivery.repository.ts) ----------

/** DeliveryRepository.ingest, as it is (insertDeliveries('$7') inlined). */
const INGEST_SQL = `WITH given AS (
   SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::jsonb[])
            WITH ORDINALITY AS g (crm_id, event_id, type, member_no, occurred_at, data, n)
    WHERE EXISTS (SELECT 1 FROM webhook.endpoint e WHERE e.crm_id = g.crm_id)
    ORDER BY n),
 ev AS (
   INSERT INTO webhook.event (crm_id, event_id, type, member_no, occurred_at, data, received_at)
   SELECT crm_id, event_id, type, member_no, occurred_at, data, $7 FROM given ORDER BY n
   ON CONFLICT (crm_id, event_id) DO NOTHING
   RETURNING crm_id, event_id, seq, type, member_no, occurred_at, data),
 want AS (
   SELECT ev.crm_id, e.webhook_id, ev.event_id, ev.seq, ev.member_no, ev.type, ev.occurred_at, ev.data
     FROM ev JOIN webhook.endpoint e ON e.crm_id = ev.crm_id AND e.status = 'enabled' AND ev.type = ANY (e.events)),
 ranked AS (
   SELECT w.*, row_number() OVER (PARTITION BY w.crm_id, w.webhook_id, w.member_no ORDER BY w.seq) AS rank,
          count(*) OVER (PARTITION BY w.crm_id, w.webhook_id, w.member_no) AS n
     FROM want w),
 queued AS (
   INSERT INTO webhook.member_queue AS m (crm_id, webhook_id, member_no, pending)
   SELECT crm_id, webhook_id, member_no, n FROM ranked WHERE member_no IS NOT NULL AND rank = 1
    ORDER BY crm_id, webhook_id, member_no
   ON CONFLICT (crm_id, webhook_id, member_no) DO UPDATE SET pending = m.pending + excluded.pending
   RETURNING m.crm_id, m.webhook_id, m.member_no, m.pending),
 queue_counts AS MATERIALIZED (
   SELECT jsonb_object_agg(crm_id || '/' || webhook_id || '/' || member_no, pending) AS of FROM queued),
 made AS (
   INSERT INTO webhook.delivery (crm_id, webhook_id, event_id, seq, member_no, type, occurred_at, data, ready, next_at, create_time)
   SELECT r.crm_id, r.webhook_id, r.event_id, r.seq, r.member_no, r.type, r.occurred_at, r.data,
          r.member_no IS NULL OR (r.rank = 1 AND (p.of ->> (r.crm_id || '/' || r.webhook_id || '/' || r.member_no))::int = r.n), $7, $7
     FROM ranked r CROSS JOIN queue_counts p
    ORDER BY r.seq
   RETURNING 1)
 SELECT (SELECT count(*) FROM ev)::int AS accepted, (SELECT count(*) FROM made)::int AS deliveries`;

/** DeliveryRepository.claim (with where to send). */
const CLAIM_SQL = `WITH due AS (
   SELECT d.crm_id, d.delivery_id
     FROM webhook.delivery d
    WHERE d.status = 'pending' AND d.ready AND d.next_at <= $1
      AND EXISTS (SELECT 1 FROM webhook.endpoint e WHERE e.crm_id = d.crm_id AND e.webhook_id = d.webhook_id AND e.status = 'enabled')
    ORDER BY d.next_at
    LIMIT $3
    FOR UPDATE OF d SKIP LOCKED)
 UPDATE webhook.delivery d
    SET next_at = $2, attempts = d.attempts + 1, first_attempt_at = COALESCE(d.first_attempt_at, $1), last_attempt_at = $1
   FROM due, webhook.endpoint e
  WHERE d.crm_id = due.crm_id AND d.delivery_id = due.delivery_id AND e.crm_id = d.crm_id AND e.webhook_id = d.webhook_id
 RETURNING d.crm_id, d.delivery_id, d.webhook_id, d.member_no, d.event_id, d.type, d.occurred_at, d.data, d.attempts, d.first_attempt_at,
           e.url, e.secret, CASE WHEN e.previous_secret_until > $1 THEN e.previous_secret END AS previous_secret`;

/** DeliveryRepository.finish of a batch of delivered attempts: the statements it runs, in its order, in one transaction. */
const FINISH_LOCK_SQL = `SELECT 1 FROM webhook.member_queue m JOIN unnest($1::text[], $2::text[], $3::text[]) AS k (crm_id, webhook_id, member_no) USING (crm_id, webhook_id, member_no)
  ORDER BY m.crm_id, m.webhook_id, m.member_no FOR UPDATE OF m`;
const FINISH_SQL = `UPDATE webhook.delivery d
    SET status = CASE r.outcome WHEN 'retry' THEN 'pending' ELSE r.outcome END,
        next_at = COALESCE(r.next_at, d.next_at), last_status = r.status, last_error = r.error,
        delivered_at = CASE WHEN r.outcome = 'delivered' THEN $7::timestamptz END
   FROM unnest($1::text[], $2::bigint[], $3::int[], $4::text[], $5::text[], $6::timestamptz[]) AS r (crm_id, delivery_id, status, error, outcome, next_at)
  WHERE d.crm_id = r.crm_id AND d.delivery_id = r.delivery_id AND d.status = 'pending'
 RETURNING d.crm_id, d.webhook_id, d.member_no, d.status`;
const FINISH_QUEUE_SQL = `UPDATE webhook.member_queue m SET pending = m.pending - g.n
   FROM (SELECT crm_id, webhook_id, member_no, count(*)::int AS n FROM unnest($1::text[], $2::text[], $3::text[]) AS u (crm_id, webhook_id, member_no) GROUP BY 1, 2, 3) g
  WHERE m.crm_id = g.crm_id AND m.webhook_id = g.webhook_id AND m.member_no = g.member_no
 RETURNING m.crm_id, m.webhook_id, m.member_no, m.pending`;
const FINISH_NEXT_SQL = `UPDATE webhook.delivery d SET ready = true
   FROM unnest($1::text[], $2::text[], $3::text[]) AS k (crm_id, webhook_id, member_no)
  WHERE d.crm_id = k.crm_id
    AND d.delivery_id = (SELECT p.delivery_id FROM webhook.delivery p
                          WHERE p.crm_id = k.crm_id AND p.webhook_id = k.webhook_id AND p.member_no = k.member_no AND p.status = 'pending'
                          ORDER BY p.seq, p.delivery_id LIMIT 1)
    AND NOT d.ready`;
const FINISH_EMPTY_SQL = `DELETE FROM webhook.member_queue m USING unnest($1::text[], $2::text[], $3::text[]) AS k (crm_id, webhook_id, member_no)
  WHERE m.crm_id = k.crm_id AND m.webhook_id = k.webhook_id AND m.member_no = k.member_no AND m.pending = 0`;
const FINISH_STREAK_SQL = `UPDATE webhook.endpoint e SET failing_since = NULL
   FROM unnest($1::text[], $2::text[]) AS k (crm_id, webhook_id)
  WHERE e.crm_id = k.crm_id AND e.webhook_id = k.webhook_id AND e.failing_since IS NOT NULL`;

/** The worker's finish of `rows` (claimed, all delivered) in one transaction on `c`, as DeliveryRepository.finish runs it. */
async function finishDelivered(c, rows, at) {
  const keysOf = (list) => {
    const m = new Map(list.map((r) => [`${r.crm_id}\u0000${r.webhook_id}\u0000${r.member_no}`, r]));
    return [[...m.values()].map((r) => r.crm_id), [...m.values()].map((r) => r.webhook_id), [...m.values()].map((r) => r.member_no)];
  };
  const members = rows.filter((r) => r.member_no !== null);
  await c.query('BEGIN');
  try {
    if (members.length) await c.query(FINISH_LOCK_SQL, keysOf(members));
    const left = (
      await c.query(FINISH_SQL, [
        rows.map((r) => r.crm_id),
        rows.map((r) => r.delivery_id),
        rows.map(() => 204),
        rows.map(() => null),
        rows.map(() => 'delivered'),
        rows.map(() => null),
        at,
      ])
    ).rows.filter((r) => r.status !== 'pending' && r.member_no !== null);
    if (left.length) {
      const all = [left.map((r) => r.crm_id), left.map((r) => r.webhook_id), left.map((r) => r.member_no)];
      const queues = (await c.query(FINISH_QUEUE_SQL, all)).rows;
      const waiting = queues.filter((q) => q.pending > 0);
      if (waiting.length) await c.query(FINISH_NEXT_SQL, keysOf(waiting));
      if (waiting.length < queues.length) await c.query(FINISH_EMPTY_SQL, keysOf(queues.filter((q) => q.pending === 0)));
    }
    await c.query(FINISH_STREAK_SQL, [rows.map((r) => r.crm_id), rows.map((r) => r.webhook_id)]);
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

// ---------- the transport (protocol.ts) ----------

/** A caller of webhook-service over the Redis-streams transport: send(pattern, data) -> the reply's response. */
async function transportClient(redisUrl, service) {
  const pub = new Redis(redisUrl);
  const sub = new Redis(redisUrl);
  const channel = `loyalty:rpc:reply:${randomUUID()}`;
  const pending = new Map();
  sub.on('message', (_ch, message) => {
    const reply = JSON.parse(message);
    const p = pending.get(reply.id);
    if (!p) return;
    pending.delete(reply.id);
    clearTimeout(p.timer);
    if (reply.err !== undefined) p.reject(new Error(`${service} answered an error: ${JSON.stringify(reply.err)}`));
    else p.resolve(reply.response);
  });
  await sub.subscribe(channel);
  return {
    send(pattern, data) {
      const id = randomUUID();
      const packet = { id, pattern, data, reply: channel, deadline: Date.now() + RPC_TIMEOUT_MS };
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => pending.delete(id) && reject(new Error(`${pattern}: no answer within ${RPC_TIMEOUT_MS} ms`)), RPC_TIMEOUT_MS);
        pending.set(id, { resolve, reject, timer });
        pub.xadd(`loyalty:rpc:${service}`, '*', 'p', JSON.stringify(packet)).catch(reject);
      });
    },
    close() {
      pub.disconnect();
      sub.disconnect();
    },
  };
}

// ---------- the receiver ----------

function signatureOk(secret, headers, raw) {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = `v1,${createHmac('sha256', key).update(`${headers['webhook-id']}.${headers['webhook-timestamp']}.${raw}`).digest('base64')}`;
  return String(headers['webhook-signature'] || '')
    .split(' ')
    .includes(expected);
}

/** The local endpoint: /hook/<i> for subscription i (checked against secrets[i]), /raw for the raw rate. */
async function startReceiver() {
  const r = { secrets: [], got: [], badSignature: 0, raw: 0, onGot: null };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/raw') {
        r.raw++;
        res.writeHead(204).end();
        return;
      }
      const at = now();
      const raw = Buffer.concat(chunks).toString('utf8');
      const hook = Number(req.url.split('/')[2]);
      if (!signatureOk(r.secrets[hook], req.headers, raw)) r.badSignature++;
      const body = JSON.parse(raw);
      r.got.push({ hook, id: req.headers['webhook-id'], member: body.data.member_no, n: body.data.n, at });
      res.writeHead(204).end();
      if (r.onGot) r.onGot();
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.port = server.address().port;
  r.close = () => new Promise((resolve) => (server.closeAllConnections(), server.close(() => resolve())));
  return r;
}

/** `count` POSTs of `body` to the receiver's /raw, `concurrency` at once, keep-alive. */
async function rawRate(port, count, concurrency, body) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const post = () =>
    new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          path: '/raw',
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          res.on('end', resolve);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  let next = 0;
  const t0 = now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next++;
        await post();
      }
    }),
  );
  const wall = now() - t0;
  agent.destroy();
  return { wallMs: wall, rate: count / (wall / 1000) };
}

/** A webhook.ingest message of these events: one array per field (webhookIngestMsg in libs/domain/src/contracts/webhooks.ts). */
const INGEST_FIELDS = ['crm_id', 'event_id', 'type', 'member_no', 'occurred_at', 'data_json'];
const ingestMsg = (source, events) => ({ source, ...Object.fromEntries(INGEST_FIELDS.map((f) => [f, events.map((e) => e[f])])) });

// ---------- the floor ----------

function floorEvents(count, members, prefix) {
  return Array.from({ length: count }, (_, i) => ({
    crm_id: FLOOR_CRM_ID,
    event_id: `points-${prefix}${i + 1}`,
    type: TYPES[i % 2],
    member_no: `m${i % members}`,
    occurred_at: new Date().toISOString(),
    data_json: JSON.stringify({ member_no: `m${i % members}`, n: i + 1, points: '10.0000' }),
  }));
}

async function measureFloor(db, opts, named) {
  const farAway = new Date(Date.now() + 100 * 365 * 86_400_000);
  // The floor's subscriptions (as many as the load's) and its events with their delivery rows, not timed.
  for (let w = 0; w < opts.webhooks; w++) {
    await db.query(
      `INSERT INTO webhook.endpoint (crm_id, webhook_id, url, events, description, secret, create_time, update_time)
       VALUES ($1, $2, 'http://127.0.0.1:9/floor', $3, 'floor', $4, now(), now())`,
      [FLOOR_CRM_ID, `wh_floor${w}`, ALL_TYPES, `whsec_${randomBytes(32).toString('base64')}`],
    );
  }
  const events = floorEvents(Math.ceil(opts.floor / opts.webhooks), opts.members, 'f');
  for (let i = 0; i < events.length; i += BATCH) {
    const m = ingestMsg('points', events.slice(i, i + BATCH));
    await db.query(INGEST_SQL, [...INGEST_FIELDS.map((f) => m[f]), farAway]);
  }
  await db.query('ANALYZE webhook.endpoint, webhook.event, webhook.delivery');
  await db.query('CHECKPOINT');

  const poolSize = Number(process.env.DB_POOL_SIZE || 10);
  const conns = [];
  for (let i = 0; i < poolSize; i++) {
    const c = new Client({ connectionString: DATABASE_URL, application_name: 'bench-webhooks-floor' });
    await c.connect();
    conns.push(c);
  }
  const free = [...conns];
  const waiting = [];
  const take = () => (free.length ? Promise.resolve(free.pop()) : new Promise((resolve) => waiting.push(resolve)));
  const give = (c) => (waiting.length ? waiting.shift()(c) : free.push(c));
  const withConn = async (fn) => {
    const c = await take();
    try {
      return await fn(c);
    } finally {
      give(c);
    }
  };

  const cpu = await cpuSnapshot(db, DB_NAME, named);
  let done = 0;
  let claims = 0;
  const lat = [];
  const t0 = now();
  const total = events.length * opts.webhooks;
  // The worker's loop in lanes (the worker claims a quarter of its slots at a time): claim, then
  // finish the batch in one transaction, as the worker writes the outcomes ended since its last pass.
  const lanes = 4;
  const perClaim = Math.max(1, Math.ceil(opts.concurrency / lanes));
  const lane = async () => {
    for (;;) {
      const at = farAway;
      const s = now();
      const claimed = await withConn((c) => c.query(CLAIM_SQL, [at, new Date(at.getTime() + 40_000), perClaim]).then((r) => r.rows));
      claims++;
      if (!claimed.length) return;
      await withConn((c) => finishDelivered(c, claimed, at));
      done += claimed.length;
      lat.push(now() - s);
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
  if (done < total) throw new Error(`floor: nothing to claim with ${total - done} deliveries not finished`);
  const wallMs = now() - t0;
  const cpuUsed = await cpu.diff();
  await Promise.all(conns.map((c) => c.end().catch(() => undefined)));
  const [{ n }] = (await db.query(`SELECT count(*)::int AS n FROM webhook.delivery WHERE crm_id = $1 AND status = 'delivered'`, [FLOOR_CRM_ID])).rows;
  return { wallMs, deliveries: total, rate: total / (wallMs / 1000), claims, latency: percentiles(lat), cpu: cpuUsed, allDelivered: n === total };
}

// ---------- the invariants ----------

async function checkInvariants(db, opts, receiver, sent) {
  const expected = opts.events * opts.webhooks;
  const seen = new Map();
  let dupes = 0;
  let outOfOrder = 0;
  const lastN = new Map(); // hook/member -> last event number received
  for (const g of receiver.got) {
    const key = `${g.hook}/${g.id}`;
    if (seen.has(key)) dupes++;
    else seen.set(key, g);
    const mk = `${g.hook}/${g.member}`;
    if ((lastN.get(mk) ?? 0) >= g.n) outOfOrder++;
    lastN.set(mk, g.n);
  }
  let missing = 0;
  for (let w = 0; w < opts.webhooks; w++) for (const id of sent.ids) if (!seen.has(`${w}/${id}`)) missing++;
  const rows = (
    await db.query(
      `SELECT count(*)::int AS total, count(*) FILTER (WHERE status = 'delivered')::int AS delivered,
              count(*) FILTER (WHERE attempts <> 1)::int AS retried, count(DISTINCT (webhook_id, event_id))::int AS distinct_pairs
         FROM webhook.delivery WHERE crm_id = $1`,
      [CRM_ID],
    )
  ).rows[0];
  const checks = [
    [
      'ingest accepted every event once, one delivery per subscription',
      sent.accepted === opts.events && sent.deliveries === expected,
      `accepted ${sent.accepted}, deliveries ${sent.deliveries} of ${expected}`,
    ],
    [
      'every event delivered exactly once per subscription at the receiver',
      dupes === 0 && missing === 0 && receiver.got.length === expected,
      `${receiver.got.length} received, ${dupes} duplicates, ${missing} missing`,
    ],
    ['every signature valid', receiver.badSignature === 0, `${receiver.badSignature} bad`],
    ['in order per member and subscription', outOfOrder === 0, `${outOfOrder} out of order`],
    [
      'deliveries table: one row per event and subscription, all delivered at the first attempt',
      rows.total === expected && rows.delivered === expected && rows.distinct_pairs === expected && rows.retried === 0,
      `${rows.total} rows, ${rows.delivered} delivered, ${rows.distinct_pairs} distinct, ${rows.retried} with attempts <> 1`,
    ],
  ];
  return { ok: checks.every((c) => c[1]), checks };
}

// ---------- main ----------

async function resetStores() {
  await lib.resetStores(DB_NAME, REDIS_URL);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-webhooks-'));
  const rootKey = `root-${randomBytes(12).toString('hex')}`;
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const startedAt = new Date();
  console.log(
    `bench:webhooks  events=${fmt(opts.events)}  members=${fmt(opts.members)}  webhooks=${opts.webhooks}  concurrency=${opts.concurrency}  ` +
      `floor=${fmt(opts.floor)}  db=${DB_NAME}  redis db=${REDIS_DB}`,
  );
  console.log(lib.machineLine());
  console.log(`logs: ${logDir}`);

  await resetStores();
  const pass = (name) => (process.env[name] ? { [name]: process.env[name] } : {});
  const env = appEnv(
    { databaseUrl: DATABASE_URL, redisUrl: REDIS_URL, rootKey, port },
    {
      WEBHOOK_ALLOW_PRIVATE_HOSTS: 'true',
      WEBHOOK_CONCURRENCY: String(opts.concurrency),
      ...pass('DB_POOL_SIZE'),
      ...pass('WEBHOOK_POLL_MS'),
      ...pass('LOG_LEVEL'),
    },
  );
  const gateway = spawnApp('gateway', env, logDir);
  const webhook = spawnApp('webhook-service', env, logDir);
  const procs = [gateway, webhook];
  console.log(`dist: gateway ${sha(gateway.main)}, webhook-service ${sha(webhook.main)} (sha256 prefix of main.js)`);
  const bootT0 = now();
  await waitForHealth(base, procs, 90_000, { service: 'webhook', instances: 1 });
  console.log(`apps up in ${secs(now() - bootT0)} (${procs.map((p) => `${p.app} pid ${p.child.pid}`).join(', ')})`);

  const receiver = await startReceiver();
  const transport = await transportClient(REDIS_URL, 'webhook');
  const db = new Client({ connectionString: DATABASE_URL, application_name: 'bench-webhooks' });
  await db.connect();
  try {
    const settings = await pgSettings(db);
    const pgVersion = (await db.query('SHOW server_version')).rows[0].server_version;
    const named = [{ pid: process.pid, group: 'bench+receiver' }, ...procs.map((p) => ({ pid: p.child.pid, group: p.app }))];

    // 1. the receiver's own rate
    const sampleBody = JSON.stringify({
      id: 'points-1',
      type: 'points.earned',
      timestamp: new Date().toISOString(),
      crm_id: CRM_ID,
      data: { member_no: 'm1', n: 1 },
    });
    const raw = await rawRate(receiver.port, opts.events, opts.concurrency, sampleBody);
    console.log(`receiver raw: ${fmt(opts.events)} POSTs in ${secs(raw.wallMs)}, ${fmt(raw.rate)}/s`);

    // 2. the floor, apps idle
    process.stdout.write(`floor: ${fmt(opts.floor)} deliveries claimed and finished in PostgreSQL ... `);
    const floor = await measureFloor(db, opts, named);
    console.log(`${secs(floor.wallMs)}, ${fmt(floor.rate)} deliveries/s`);

    // 3. the load
    for (let w = 0; w < opts.webhooks; w++) {
      const res = await call(base, rootKey, 'POST', `/api/crm/webhooks/${CRM_ID}`, {
        url: `http://127.0.0.1:${receiver.port}/hook/${w}`,
        events: ALL_TYPES,
        description: `bench ${w}`,
      });
      if (res.body.code !== 0) throw new Error(`creating a subscription answered ${res.status}: ${JSON.stringify(res.body)}`);
      receiver.secrets[w] = res.body.data.secret;
    }
    await db.query('CHECKPOINT');
    const expected = opts.events * opts.webhooks;
    const allIn = new Promise((resolve) => {
      receiver.onGot = () => receiver.got.length >= expected && resolve();
    });
    const events = Array.from({ length: opts.events }, (_, i) => ({
      crm_id: CRM_ID,
      event_id: `points-${i + 1}`,
      type: TYPES[i % 2],
      member_no: `m${i % opts.members}`,
      occurred_at: new Date().toISOString(),
      data_json: JSON.stringify({ member_no: `m${i % opts.members}`, n: i + 1, points: '10.0000' }),
    }));
    const committedAt = new Array(opts.events);
    const sent = { accepted: 0, deliveries: 0, ids: events.map((e) => e.event_id), batches: 0 };
    const cpu = await cpuSnapshot(db, DB_NAME, named);
    console.log(`load: ${fmt(opts.events)} events in webhook.ingest requests of ${BATCH}, ${fmt(expected)} deliveries ...`);
    const t0 = now();
    const ingestLat = [];
    for (let i = 0; i < events.length; i += BATCH) {
      const s = now();
      const reply = await transport.send('webhook.ingest', ingestMsg('points', events.slice(i, i + BATCH)));
      if (!reply || reply.code !== 0) throw new Error(`webhook.ingest answered ${JSON.stringify(reply)}`);
      const at = now();
      ingestLat.push(at - s);
      for (let k = i; k < Math.min(i + BATCH, events.length); k++) committedAt[k] = at;
      sent.accepted += reply.data.accepted;
      sent.deliveries += reply.data.deliveries;
      sent.batches++;
    }
    const ingestMs = now() - t0;
    let lastCount = -1;
    let lastMove = now();
    while (receiver.got.length < expected) {
      await Promise.race([allIn, lib.sleep(500)]);
      if (receiver.got.length !== lastCount) {
        lastCount = receiver.got.length;
        lastMove = now();
        if (process.stdout.isTTY) process.stdout.write(`\r  received ${fmt(lastCount)} / ${fmt(expected)}`);
      } else if (now() - lastMove > STALL_MS) {
        break;
      }
      for (const p of procs) if (lib.isGone(p)) throw new Error(`${p.app} died during the load; see ${p.logFile}`);
    }
    if (process.stdout.isTTY) process.stdout.write('\r\x1b[K');
    const lastAt = receiver.got.reduce((m, g) => Math.max(m, g.at), t0);
    const wallMs = lastAt - t0;
    const cpuUsed = await cpu.diff();
    // The last finish may be in flight still: let it land before the table is checked.
    await lib.sleep(300);
    const lat = receiver.got.map((g) => g.at - committedAt[g.n - 1]);
    const latency = percentiles(lat);
    const rate = receiver.got.length / (wallMs / 1000);
    const inv = await checkInvariants(db, opts, receiver, sent);
    const ratio = rate / floor.rate;

    const line = (k, v) => console.log(`  ${k.padEnd(40)} ${v}`);
    const latLine = (p) => `p50 ${ms(p.p50)}  p95 ${ms(p.p95)}  p99 ${ms(p.p99)}  max ${ms(p.max)}`;
    console.log('\nsummary');
    line('started', startedAt.toISOString());
    line('PostgreSQL', `${pgVersion}  ${settings}`);
    line('deliveries end to end', `${fmt(receiver.got.length)} in ${secs(wallMs)}  ->  ${fmt(rate)} deliveries/s`);
    line('latency ms (ingest answered -> received)', latLine(latency));
    line(
      'ingest',
      `${sent.batches} requests in ${secs(ingestMs)} (${fmt(opts.events / (ingestMs / 1000))} events/s), per request ${latLine(percentiles(ingestLat))}`,
    );
    line(
      'floor: claim+finish in PostgreSQL',
      `${fmt(floor.deliveries)} in ${secs(floor.wallMs)}  ->  ${fmt(floor.rate)} deliveries/s (${floor.claims} claims of <= ${opts.concurrency})`,
    );
    line('floor latency ms (a claim and its finish)', latLine(floor.latency));
    line('receiver raw rate (context)', `${fmt(raw.rate)} POSTs/s, ${opts.concurrency} at once, keep-alive, from this process`);
    line('CPU s during the load', fmtCpu(cpuUsed));
    line('CPU s in the floor', fmtCpu(floor.cpu));
    line('ratio deliveries/s / floor', ratio.toFixed(2));
    console.log('  invariants:');
    for (const [name, ok, detail] of inv.checks) console.log(`    [${ok ? 'ok' : 'FAIL'}] ${name} (${detail})`);
    if (!floor.allDelivered) console.log('    [FAIL] floor: every floor delivery delivered');
    const invOk = inv.ok && floor.allDelivered;
    console.log(
      `RESULT events=${opts.events} members=${opts.members} webhooks=${opts.webhooks} concurrency=${opts.concurrency} deliveries=${receiver.got.length} ` +
        `deliveries_per_s=${Math.round(rate)} p50_ms=${ms(latency.p50)} p99_ms=${ms(latency.p99)} floor_per_s=${Math.round(floor.rate)} ` +
        `receiver_raw_per_s=${Math.round(raw.rate)} ratio=${ratio.toFixed(3)} invariants=${invOk ? 'ok' : 'broken'}`,
    );
    return invOk ? 0 : 1;
  } finally {
    transport.close();
    await receiver.close();
    await db.end().catch(() => undefined);
  }
}

lib.stopOnSignals();
lib.runMain('bench:webhooks', main);
