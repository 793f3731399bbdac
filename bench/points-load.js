'use strict';
const { autocannonStats, percentiles } = require('./lib');
/**
 * The HTTP load of bench/points.js, in its own process (forked by points.js, so the load
 * generator does not share an event loop with the harness): autocannon POSTs earns
 * (/api/crm/points/<crm>/produce/direct) and spends (/api/crm/points/<crm>/consume/direct),
 * one fresh body per request: a random member m0..m<members-1>; with probability
 * spendRatio a spend of 1-5 points, else an earn of 1-10 points with expire_days 30;
 * event_no <runTag>-l-<seq>, unique in the run.
 *
 * Parent -> child (IPC): { base, key, crm, members, requests, connections, spendRatio, runTag, timeoutS }
 * Child -> parent: { type: 'progress', done } now and then, then { type: 'result', ... } and exit.
 *
 * Every answer is classified by the envelope's `code` (the body is read in onResponse):
 * 0 success, 40908 (HTTP 409) not enough points (a business refusal), anything else an
 * error, kept by "HTTP status/code". Requests with no answer (timeouts, connection errors)
 * are errors too. The result lists the event_no sequence numbers (and points asked) of the
 * successful earns and spends and of the refusals, for the invariants. Latencies are the
 * response times autocannon records (all answers), kept raw so p95 is exact.
 */
const autocannon = require('autocannon');

const OK = 0;
const POINTS_INSUFFICIENT = 40908;

/** Latency figures of the first `count` samples (the arrays are allocated for the whole run). */
const summarize = (values, count) => percentiles(values.subarray(0, count));

function run(cfg) {
  const { base, key, crm, members, requests, connections, spendRatio, runTag } = cfg;
  const earnPath = `/api/crm/points/${encodeURIComponent(crm)}/produce/direct`;
  const spendPath = `/api/crm/points/${encodeURIComponent(crm)}/consume/direct`;
  let seq = 0;

  // onResponse (body known, with the connection's context: the request it answers) runs
  // synchronously just before autocannon's 'response' event (latency known) for the same
  // answer, so the class is handed over in this variable.
  let last = null;
  const counts = { earnOk: 0, spendOk: 0, refused: 0, otherAnswers: 0, noAnswer: 0 };
  const sent = { earn: 0, spend: 0 };
  const other = {}; // "status/code" -> count
  const noAnswerReasons = {};
  const samples = {}; // "status/code" -> first body seen
  const cap = requests + connections;
  const lat = { all: new Float64Array(cap), earnOk: new Float64Array(cap), spendOk: new Float64Array(cap), refused: new Float64Array(cap) };
  const n = { all: 0, earnOk: 0, spendOk: 0, refused: 0 };
  // What succeeded or was refused, by event_no sequence number, with the points asked.
  const done = { earnOk: { seq: [], points: [] }, spendOk: { seq: [], points: [] }, refused: { seq: [], points: [] } };
  const perSecond = []; // successes + refusals in each second of the load
  let firstAt = null;
  let lastAnswerAt = null;
  let t0 = null;
  /** When the last answer or error came: autocannon calls back only at its next 1 s tick after it, so its own end is up to a second late. */
  let endAt = null;

  const classify = (status, body, ctx) => {
    let code;
    try {
      code = JSON.parse(body).code;
    } catch {
      code = 'non-json';
    }
    const kind = ctx && ctx.kind;
    let cls;
    if (status === 200 && code === OK && kind) cls = kind === 'earn' ? 'earnOk' : 'spendOk';
    else if (status === 409 && code === POINTS_INSUFFICIENT && kind === 'spend') cls = 'refused';
    else {
      const k = `${kind || '?'} ${status}/${code}`;
      other[k] = (other[k] || 0) + 1;
      if (!samples[k]) samples[k] = String(body).slice(0, 300);
      return 'otherAnswers';
    }
    done[cls].seq.push(ctx.seq);
    done[cls].points.push(ctx.points);
    return cls;
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
          path: earnPath,
          // `context` is this connection's, fresh for each request (one request in the list, no pipelining).
          setupRequest(req, context) {
            const member = `m${Math.floor(Math.random() * members)}`;
            const s = ++seq;
            const eventNo = `${runTag}-l-${s}`;
            if (Math.random() < spendRatio) {
              const points = 1 + Math.floor(Math.random() * 5);
              req.path = spendPath;
              req.body = JSON.stringify({ event_no: eventNo, member_no: member, points });
              Object.assign(context, { kind: 'spend', seq: s, points });
              sent.spend++;
            } else {
              const points = 1 + Math.floor(Math.random() * 10);
              req.path = earnPath;
              req.body = JSON.stringify({ event_no: eventNo, member_no: member, event_type: 'order', points, expire_days: 30 });
              Object.assign(context, { kind: 'earn', seq: s, points });
              sent.earn++;
            }
            return req;
          },
          onResponse(status, body, context) {
            last = classify(status, body, context);
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
      process.send(
        {
          type: 'result',
          wallMs: (endAt ?? t1) - t0,
          firstAnswerMs: firstAt === null ? null : firstAt - t0,
          lastAnswerMs: lastAnswerAt === null ? null : lastAnswerAt - t0,
          counts,
          built: sent,
          other,
          samples,
          noAnswerReasons,
          latency: summarize(lat.all, n.all),
          latencyEarnOk: summarize(lat.earnOk, n.earnOk),
          latencySpendOk: summarize(lat.spendOk, n.spendOk),
          latencyRefused: summarize(lat.refused, n.refused),
          done,
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
    lat.all[n.all++] = responseTime;
    const cls = last || 'otherAnswers';
    last = null;
    counts[cls]++;
    if (cls !== 'otherAnswers') {
      lat[cls][n[cls]++] = responseTime;
      lastAnswerAt = at;
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

  const progress = setInterval(() => process.send({ type: 'progress', done: n.all + counts.noAnswer }), 1000);
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
