'use strict';
/**
 * What must hold after every scenario, read from PostgreSQL and the API. Each check answers a
 * list of violations (strings); empty is good.
 */
const { request, send, Stats, sleep } = require('./load');

/** Claims of one card: ≤ stock, = distinct codes = distinct received_ids, no code held twice, each acknowledged claim holds the code it was answered. */
async function claims(cluster, stats, crm, cardId) {
  const out = [];
  const [c] = await cluster.sql(
    `SELECT ci.generated_count::int AS stock, ci.received_count::int AS received,
            (SELECT count(*) FROM card.member_card_code m WHERE m.crm_id = ci.crm_id AND m.card_id = ci.card_id)::int AS held,
            (SELECT count(DISTINCT card_code) FROM card.member_card_code m WHERE m.crm_id = ci.crm_id AND m.card_id = ci.card_id)::int AS codes,
            (SELECT count(DISTINCT received_id) FROM card.member_card_code m WHERE m.crm_id = ci.crm_id AND m.card_id = ci.card_id)::int AS ids,
            (SELECT count(*) FROM card.card_code k WHERE k.crm_id = ci.crm_id AND k.card_id = ci.card_id AND k.member_no IS NOT NULL)::int AS taken
       FROM card.card_info ci WHERE ci.crm_id = $1 AND ci.card_id = $2`,
    [crm, cardId],
  );
  if (!c) return [`card ${cardId} not found`];
  if (c.held > c.stock) out.push(`card ${cardId}: ${c.held} codes claimed > stock ${c.stock}`);
  if (c.held !== c.codes) out.push(`card ${cardId}: ${c.held} claims hold ${c.codes} distinct codes (a code held twice)`);
  if (c.held !== c.ids) out.push(`card ${cardId}: ${c.held} claims from ${c.ids} distinct received_ids`);
  if (c.taken !== c.held) out.push(`card ${cardId}: ${c.taken} codes marked taken, ${c.held} held by members`);
  if (c.received !== c.held) out.push(`card ${cardId}: received_count ${c.received} != ${c.held} held`);
  const mine = stats.acked.filter((a) => a.kind === 'claim' && a.cardId === cardId);
  const rows = await cluster.sql(`SELECT received_id, card_code FROM card.member_card_code WHERE crm_id = $1 AND card_id = $2`, [crm, cardId]);
  const byId = new Map(rows.map((r) => [r.received_id, r.card_code]));
  let lost = 0;
  let wrong = 0;
  for (const a of mine) {
    const held = byId.get(a.body.received_id);
    if (a.answer.code === 0) {
      if (!held) lost++;
      else if (held !== a.answer.data?.[0]?.card_code) wrong++;
    } else if (held) wrong++;
  }
  if (lost) out.push(`card ${cardId}: ${lost} acknowledged claim(s) not in PostgreSQL`);
  if (wrong) out.push(`card ${cardId}: ${wrong} claim(s) hold another code than answered (or hold one though refused)`);
  return out;
}

/** Points of one tenant: balance = Σ applied earns − Σ applied spends per member, no event_no twice, each acknowledged event applied, the client's own sums agree. */
async function points(cluster, stats, crm) {
  const out = [];
  const [dup] = await cluster.sql(`SELECT count(*)::int AS n, count(DISTINCT event_no)::int AS d FROM points.event WHERE crm_id = $1`, [crm]);
  if (dup.n !== dup.d) out.push(`points: ${dup.n - dup.d} event_no(s) applied twice`);
  const members = await cluster.sql(
    `SELECT m.member_no, (m.total_points - m.used_points)::text AS balance,
            coalesce((SELECT sum(points) FROM points.event e WHERE e.crm_id = m.crm_id AND e.member_no = m.member_no AND e.event_type = 'produce'), 0)::text AS earned,
            coalesce((SELECT sum(abs(points)) FROM points.event e WHERE e.crm_id = m.crm_id AND e.member_no = m.member_no AND e.event_type = 'consume'), 0)::text AS spent,
            coalesce((SELECT sum(remaining) FROM points.lot l WHERE l.crm_id = m.crm_id AND l.member_no = m.member_no), 0)::text AS lots
       FROM points.member m WHERE m.crm_id = $1`,
    [crm],
  );
  const db = new Map();
  let bad = 0;
  for (const m of members) {
    const fromEvents = Number(m.earned) - Number(m.spent);
    if (Number(m.balance) !== fromEvents || Number(m.lots) !== fromEvents) {
      if (bad++ < 3) out.push(`points: member ${m.member_no} balance ${m.balance}, lots ${m.lots}, earns − spends ${fromEvents}`);
    }
    db.set(m.member_no, fromEvents);
  }
  if (bad > 3) out.push(`points: ${bad} members in all whose balance disagrees with their events`);
  const applied = new Set((await cluster.sql(`SELECT event_no FROM points.event WHERE crm_id = $1`, [crm])).map((r) => r.event_no));
  const mine = stats.acked.filter((a) => (a.kind === 'earn' || a.kind === 'spend') && a.crm === crm);
  const lost = mine.filter((a) => a.answer.code === 0 && !applied.has(a.body.event_no)).length;
  const ghost = mine.filter((a) => a.answer.code !== 0 && applied.has(a.body.event_no)).length;
  if (lost) out.push(`points: ${lost} acknowledged event(s) not applied`);
  if (ghost) out.push(`points: ${ghost} refused event(s) applied`);
  const sums = new Map();
  for (const a of mine) {
    if (a.answer.code !== 0) continue;
    sums.set(a.member, (sums.get(a.member) || 0) + (a.kind === 'earn' ? a.points : -a.points));
  }
  let off = 0;
  for (const [member, sum] of sums) if (!stats.unknown.has(member) && (db.get(member) ?? 0) !== sum) off++;
  if (off) out.push(`points: ${off} member(s) whose balance differs from the client's acknowledged earns − spends`);
  return out;
}

/**
 * Sends successful operations again with the same ids (at most `limit`): each must get the same
 * answer. Business refusals are not sent again: a refused spend is not recorded, so the same
 * event_no may succeed later once the member has the points (points.js checks none was applied).
 */
async function sameAnswers(cluster, stats, limit = 500) {
  const done = stats.acked.filter((a) => a.answer.code === 0);
  const sample = done.length <= limit ? done : Array.from({ length: limit }, (_, i) => done[Math.floor((i * done.length) / limit)]);
  const replay = new Stats();
  let differ = 0;
  const example = [];
  for (let i = 0; i < sample.length; i += 32) {
    await Promise.all(
      sample.slice(i, i + 32).map(async (a) => {
        const res = await send(cluster, replay, { ...a, answer: undefined });
        if (!res) return;
        const again = JSON.stringify({ status: res.status, code: res.body.code, data: res.body.code === 0 ? res.body.data : undefined });
        const first = JSON.stringify({ status: a.answer.status, code: a.answer.code, data: a.answer.data });
        if (again !== first) {
          differ++;
          if (example.length < 2) example.push(`${first} then ${again}`);
        }
      }),
    );
  }
  return differ ? [`${differ} of ${sample.length} ids answered differently when sent again, e.g. ${example.join('; ')}`] : [];
}

/** Stock: `n` codes generated, distinct; every stock job of the tenant done (none stuck); waits up to `settleMs`. */
async function stock(cluster, crm, cardId, n, settleMs = 120_000) {
  const out = [];
  const until = Date.now() + settleMs;
  let st;
  for (;;) {
    const res = await request(cluster.base, 'GET', `/api/crm/card/${crm}/stock/status?generate_id=init-${cardId}`, undefined, 10_000, cluster.rootKey).catch(
      () => null,
    );
    st = res?.body?.data;
    if (st?.is_generated || Date.now() > until) break;
    await sleep(500);
  }
  if (!st?.is_generated) out.push(`stock of ${cardId} not generated after ${settleMs / 1000} s: ${JSON.stringify(st)}`);
  const [c] = await cluster.sql(`SELECT count(*)::int AS n, count(DISTINCT card_code)::int AS d FROM card.card_code WHERE crm_id = $1 AND card_id = $2`, [
    crm,
    cardId,
  ]);
  if (c.n !== n || c.d !== n) out.push(`stock of ${cardId}: ${c.n} codes (${c.d} distinct), expected ${n}`);
  return out;
}

/** No stock job of the tenant left unfinished (every one done, or visibly failed). */
async function noStuckJobs(cluster, crm) {
  const rows = await cluster.sql(`SELECT generate_id, status FROM card.card_generate WHERE crm_id = $1 AND status NOT IN ('done', 'failed')`, [crm]);
  return rows.length ? [`${rows.length} stock job(s) stuck: ${rows.map((r) => `${r.generate_id} ${r.status}`).join(', ')}`] : [];
}

/** The dashboard's totals equal the card schema's (dashboard:rebuild compare exits 0), within `settleMs`. */
async function dashboard(cluster, crm, settleMs = 60_000) {
  const until = Date.now() + settleMs;
  let last;
  for (;;) {
    last = await cluster.dashboardRebuild(crm);
    if (last.code === 0) return [];
    if (Date.now() > until) break;
    await sleep(3_000);
  }
  const diff = last.out
    .split('\n')
    .filter((l) => l.trim())
    .slice(-4)
    .join(' | ');
  return [`dashboard of ${crm} differs from the card schema after ${settleMs / 1000} s (rebuild exit ${last.code}): ${diff.slice(0, 400)}`];
}

module.exports = { claims, points, sameAnswers, stock, noStuckJobs, dashboard };
