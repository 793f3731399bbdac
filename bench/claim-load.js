'use strict';
const { autocannonStats, percentiles } = require('./lib');
/**
 * The HTTP load of bench/claim.js, in its own process (forked by claim.js, so the load
 * generator does not share an event loop with the harness): autocannon POSTs
 * /api/crm/card/<crm>/member/receive, one fresh body per request.
 *
 * Parent -> child (IPC): { base, key, crm, cardId, members, requests, connections, runTag, timeoutS }
 * Child -> parent: { type: 'progress', done } now and then, then { type: 'result', ... } and exit.
 *
 * Every answer is classified by the envelope's `code` (the body is read in onResponse):
 * 0 success, 40903 out of stock, 40904 get_limit reached, anything else an error, kept by
 * "HTTP status/code". Requests with no answer (timeouts, connection errors) are errors too.
 * Latencies are the response times autocannon records in its histogram (all answers), kept
 * raw here as well so p95 (which autocannon's histogram summary lacks) is exact.
 */
const autocannon = require('autocannon');

const OK = 0;
const OUT_OF_STOCK = 40903;
const LIMIT_REACHED = 40904;

/** Latency figures of the first `count` samples (the arrays are allocated for the whole run). */
const summarize = (values, count) => percentiles(values.subarray(0, count));

function run(cfg) {
  const { base, key, crm, cardId, members, requests, connections, runTag } = cfg;
  const path = `/api/crm/card/${encodeURIComponent(crm)}/member/receive`;
  let seq = 0;

  // onResponse (body known) runs synchronously just before autocannon's 'response' event
  // (latency known) for the same answer, so the class is handed over in this variable.
  let lastClass = null;
  const counts = { ok: 0, outOfStock: 0, limit: 0, otherAnswers: 0, noAnswer: 0 };
  const other = {}; // "status/code" -> count
  const noAnswerReasons = {};
  const samples = {}; // "status/code" -> first body seen
  const lat = { all: new Float64Array(requests + connections), ok: new Float64Array(requests + connections) };
  let nAll = 0;
  let nOk = 0;
  const perSecond = []; // successes in each second of the load
  let firstAt = null;
  let lastOkAt = null;
  let t0 = null;
  /** When the last answer or error came: autocannon calls back only at its next 1 s tick after it, so its own end is up to a second late. */
  let endAt = null;

  const classify = (status, body) => {
    let code;
    try {
      code = JSON.parse(body).code;
    } catch {
      code = 'non-json';
    }
    if (status === 200 && code === OK) return 'ok';
    if (status === 409 && code === OUT_OF_STOCK) return 'outOfStock';
    if (status === 409 && code === LIMIT_REACHED) return 'limit';
    const k = `${status}/${code}`;
    other[k] = (other[k] || 0) + 1;
    if (!samples[k]) samples[k] = String(body).slice(0, 300);
    return 'otherAnswers';
  };

  t0 = performance.now();
  const instance = autocannon(
    {
      url: base,
      connections,
      amount: requests,
      timeout: cfg.timeoutS,
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      requests: [
        {
          method: 'POST',
          path,
          setupRequest(req) {
            const member = Math.floor(Math.random() * members);
            req.body = JSON.stringify({
              received_id: `${runTag}-${++seq}`,
              member_no: `m${member}`,
              out_str: 'bench',
              card_info: { [cardId]: 1 },
            });
            return req;
          },
          onResponse(status, body) {
            lastClass = classify(status, body);
          },
        },
      ],
    },
    (err, result) => {
      const t1 = performance.now();
      if (err) {
        process.send({ type: 'error', message: err.message || String(err) }, () => process.exit(2));
        return;
      }
      const wallMs = (endAt ?? t1) - t0;
      process.send(
        {
          type: 'result',
          wallMs,
          firstAnswerMs: firstAt === null ? null : firstAt - t0,
          lastOkMs: lastOkAt === null ? null : lastOkAt - t0,
          counts,
          other,
          samples,
          noAnswerReasons,
          latency: summarize(lat.all, nAll),
          latencyOk: summarize(lat.ok, nOk),
          autocannon: autocannonStats(result),
          perSecond,
          seq,
          cpu: process.cpuUsage(),
        },
        () => process.exit(0),
      );
    },
  );

  instance.on('response', (_client, _status, _bytes, responseTime) => {
    const at = performance.now();
    endAt = at;
    if (firstAt === null) firstAt = at;
    lat.all[nAll++] = responseTime;
    const cls = lastClass || 'otherAnswers';
    lastClass = null;
    counts[cls]++;
    if (cls === 'ok') {
      lat.ok[nOk++] = responseTime;
      lastOkAt = at;
      const s = Math.floor((at - t0) / 1000);
      while (perSecond.length <= s) perSecond.push(0);
      perSecond[s]++;
    }
  });
  instance.on('reqError', (err) => {
    endAt = performance.now();
    counts.noAnswer++;
    const k = (err && (err.code || err.message)) || 'error';
    noAnswerReasons[k] = (noAnswerReasons[k] || 0) + 1;
  });

  const progress = setInterval(() => process.send({ type: 'progress', done: nAll + counts.noAnswer }), 1000);
  progress.unref();
}

process.once('message', (cfg) => {
  try {
    run(cfg);
  } catch (err) {
    process.send({ type: 'error', message: err.stack || String(err) }, () => process.exit(2));
  }
});
process.on('disconnect', () => process.exit(0)); // the harness went away
