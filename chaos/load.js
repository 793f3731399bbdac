'use strict';
/**
 * Load through the gateway as our users' clients make it: plain node:http with keep-alive
 * agents; a request that fails (no answer, a timeout, 429, 5xx) is sent again with the SAME
 * idempotency id (received_id of a claim, event_no of a points event) after a short backoff,
 * to the next gateway of the cluster's list when the connection failed, until it gets a
 * definitive answer (200, or a business refusal such as out of stock) or OP_DEADLINE_MS passes.
 *
 * Every attempt is counted (Stats); every acknowledged operation is kept (its path, body and
 * answer) so that invariants.js can check the stores against it and send it again.
 */
const http = require('node:http');

// No cap on sockets: each client of a crowd has its own connection (a capped agent would queue requests inside the client).
const agent = new http.Agent({ keepAlive: true });
const ATTEMPT_TIMEOUT_MS = 15_000; // above the gateway's RPC deadline (10 s): its own 503 is seen
const OP_DEADLINE_MS = 90_000;
const BUSINESS = new Set([40903, 40904, 40908]); // out of stock, get_limit reached, not enough points
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** One HTTP request: { status, body, headers } or throws (no answer, timeout). */
function request(base, method, path, body, timeoutMs = ATTEMPT_TIMEOUT_MS, key) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      `${base}${path}`,
      {
        method,
        agent,
        headers: { authorization: `Bearer ${key}`, ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          let json;
          try {
            json = JSON.parse(text);
          } catch {
            json = { code: 'non-json', msg: text.slice(0, 200) };
          }
          resolve({ status: res.statusCode, body: json, headers: res.headers });
        });
        res.on('error', reject);
      },
    );
    // A deadline from the start, not an idle timeout: a request that waits for its answer longer is a hang.
    const timer = setTimeout(() => req.destroy(new Error('timeout')), timeoutMs);
    req.on('close', () => clearTimeout(timer));
    req.on('error', reject);
    req.end(payload);
  });
}

class Stats {
  constructor() {
    this.requests = 0;
    this.ok = 0; // definitive answers: 200 or a business refusal
    this.refused = 0; // 429 and 503 answers
    this.s429 = 0;
    this.s503 = 0;
    this.s500 = 0;
    this.other = {}; // "status/code" -> count of other answers
    this.noAnswer = 0; // connection failed, reset or timed out
    this.noAnswerWhy = {}; // "error code@gateway port" -> count
    this.failed = 0; // operations given up without a definitive answer
    this.ops = 0;
    this.faultAt = null;
    this.lastBadAt = 0;
    this.latencies = [];
    this.acked = []; // { kind, path, body, answer, member, points }
    this.unknown = new Set(); // members with an operation of unknown outcome (points)
    this.samples500 = [];
  }

  get fiveXX() {
    return this.s503 + this.s500 + Object.entries(this.other).reduce((n, [k, v]) => n + (k.startsWith('5') ? v : 0), 0);
  }

  fault() {
    this.faultAt ??= Date.now();
  }

  /** Seconds from the first fault to the last attempt that did not get a definitive answer. */
  get recoverySeconds() {
    if (this.faultAt === null || this.lastBadAt < this.faultAt) return 0;
    return (this.lastBadAt - this.faultAt) / 1000;
  }

  line(n, name, violations) {
    const other = Object.entries(this.other)
      .map(([k, v]) => `${k}:${v}`)
      .join(' ');
    return (
      `scenario ${n} ${name}: requests ${this.requests}, ok ${this.ok}, refused ${this.refused} (429 ${this.s429}), ` +
      `5xx ${this.fiveXX} (503 ${this.s503} / 500 ${this.s500}), no answer ${this.noAnswer}, failed ${this.failed}${other ? `, other ${other}` : ''}, ` +
      `recovery ${this.recoverySeconds.toFixed(1)} s, violations ${violations}`
    );
  }
}

/**
 * Sends one operation until it has a definitive answer: the answer, or null when given up.
 * `once`: a single attempt (the overload scenario), no retry.
 */
async function send(cluster, stats, op, { once = false, timeoutMs = ATTEMPT_TIMEOUT_MS } = {}) {
  const until = Date.now() + OP_DEADLINE_MS;
  let pause = 100;
  let gw = 0;
  stats.ops++;
  for (;;) {
    const bases = cluster.gateways;
    const base = bases[gw % bases.length];
    const t0 = Date.now();
    stats.requests++;
    let res = null;
    try {
      res = await request(base, 'POST', op.path, op.body, timeoutMs, cluster.rootKey);
    } catch (err) {
      stats.noAnswer++;
      const why = `${err.code || err.message}@${base.slice(-5)}`;
      stats.noAnswerWhy[why] = (stats.noAnswerWhy[why] || 0) + 1;
      gw++;
    }
    const t1 = Date.now();
    if (res) {
      const code = res.body.code;
      if (res.status === 200 && code === 0) {
        stats.ok++;
        stats.latencies.push(t1 - t0);
        stats.acked.push({ ...op, answer: { status: res.status, code, data: res.body.data } });
        return res;
      }
      if (res.status === 409 && BUSINESS.has(code)) {
        stats.ok++;
        stats.latencies.push(t1 - t0);
        stats.acked.push({ ...op, answer: { status: res.status, code } });
        return res;
      }
      if (res.status === 429 || res.status === 503) {
        stats.refused++;
        if (res.status === 429) stats.s429++;
        else stats.s503++;
      } else if (res.status === 500) {
        stats.s500++;
        if (stats.samples500.length < 5) stats.samples500.push(JSON.stringify(res.body).slice(0, 200));
      } else stats.other[`${res.status}/${code}`] = (stats.other[`${res.status}/${code}`] || 0) + 1;
      if (res.status === 400) {
        stats.failed++; // our load's bug, not a fault: not retried
        return null;
      }
    }
    stats.lastBadAt = t1;
    stats.latencies.push(t1 - t0);
    if (once || Date.now() > until) {
      stats.failed++;
      if (op.member && op.kind !== 'claim') stats.unknown.add(op.member);
      return null;
    }
    const retryAfter = res && Number(res.headers['retry-after']);
    await sleep(Math.min(retryAfter ? retryAfter * 1000 : pause, 1_000) * (0.5 + Math.random()));
    pause = Math.min(pause * 2, 1_000);
  }
}

// ---------- operations ----------

let seq = 0;
const runTag = Date.now().toString(36);
const nextId = (p) => `${p}-${runTag}-${++seq}`;

function claimOp(crm, cardId, members) {
  const member = `m${Math.floor(Math.random() * members)}`;
  return {
    kind: 'claim',
    crm,
    cardId,
    member,
    path: `/api/crm/card/${crm}/member/receive`,
    body: { received_id: nextId('r'), member_no: member, out_str: 'chaos', card_info: { [cardId]: 1 } },
  };
}

function pointsOp(crm, members, spendRatio = 0.3) {
  const member = `m${Math.floor(Math.random() * members)}`;
  if (Math.random() < spendRatio) {
    const points = 1 + Math.floor(Math.random() * 5);
    return { kind: 'spend', crm, member, points, path: `/api/crm/points/${crm}/consume/direct`, body: { event_no: nextId('s'), member_no: member, points } };
  }
  const points = 1 + Math.floor(Math.random() * 10);
  return {
    kind: 'earn',
    crm,
    member,
    points,
    path: `/api/crm/points/${crm}/produce/direct`,
    body: { event_no: nextId('e'), member_no: member, event_type: 'order', points, expire_days: 30 },
  };
}

/**
 * A closed loop: `concurrency` clients, each sending `makeOp()` (with retries) one after the
 * other until stop(); stop() waits for the operations under way to finish.
 */
function closedLoop(cluster, stats, concurrency, makeOp) {
  let stopped = false;
  const workers = Array.from({ length: concurrency }, async () => {
    while (!stopped) await send(cluster, stats, makeOp());
  });
  return {
    stop: async () => {
      stopped = true;
      await Promise.all(workers);
    },
  };
}

/**
 * An open loop: `rate` operations a second for `seconds`, each one attempt (no retry) with
 * `timeoutMs`, whatever the answers; at most `maxInFlight` under way (more are counted as not
 * sent). Answers the latencies of the answers (ms) and how many were not sent.
 */
async function openLoop(cluster, stats, { rate, seconds, timeoutMs, maxInFlight, makeOp }) {
  let inFlight = 0;
  let notSent = 0;
  const pending = new Set();
  const t0 = Date.now();
  let issued = 0;
  while (Date.now() - t0 < seconds * 1000) {
    const due = Math.floor(((Date.now() - t0) / 1000) * rate);
    for (; issued < due; issued++) {
      if (inFlight >= maxInFlight) {
        notSent++;
        continue;
      }
      inFlight++;
      const p = send(cluster, stats, makeOp(), { once: true, timeoutMs }).finally(() => {
        inFlight--;
        pending.delete(p);
      });
      pending.add(p);
    }
    await sleep(5);
  }
  await Promise.all(pending);
  return { issued, notSent };
}

module.exports = { Stats, send, request, claimOp, pointsOp, closedLoop, openLoop, sleep };
