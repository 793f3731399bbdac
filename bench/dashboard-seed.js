'use strict';
/**
 * The big dashboard tenant of the benchmarks (bench/dashboard.js, bench/console.js): its
 * facts staged in dashboard.rebuild_event by generate_series SQL, the set-based builder
 * (`main.js rebuild --crm-id X --source staged [--apply]`) as a child process, and the
 * Asia/Shanghai day helpers both scripts count days with.
 *
 * The distribution: 60% claims (1-3 codes, one of 6 out_str channels), 40% redemptions
 * (1 code, one of 10 stores), a card among `cards` (card i drawn as floor(cards * u^1.5),
 * so the top lists mean something), a member among `members`, occurred_at = day_of = a
 * uniform instant in the `days` days from `from`.
 */
const { spawn } = require('node:child_process');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const lib = require('./lib');

const DAY_MS = 86_400_000;
/** Asia/Shanghai, the apps' APP_TZ default (the benchmarks do not set APP_TZ): UTC+8 all year, no DST. */
const ZONE_OFFSET_MS = 8 * 3_600_000;
const CLAIM_SHARE = 0.6;
const CARD_SKEW = 1.5;
const CLAIM_CHANNELS = ['wechat', 'alipay', 'mini_program', 'h5', 'app', 'offline'];
const STORES = Array.from({ length: 10 }, (_v, i) => `store-${String(i + 1).padStart(2, '0')}`);
/** Facts staged per statement. */
const SEED_CHUNK = 500_000;
/** NO_NEXT_DAY (libs/domain/src/dashboard/rollup.rules.ts): keep in step. */
const NO_NEXT_DAY = '9999-12-31';
/** The rollups the builder writes (VACUUM ANALYZE after the build, row counts). */
const ROLLUP_TABLES = [
  'card_day',
  'card_week',
  'tenant_day',
  'channel_day',
  'channel_day_all',
  'member_day',
  'member_all_day',
  'member_span',
  'member_day_count',
  'card',
];

// ---------- days (Asia/Shanghai) ----------

/** The Shanghai day (YYYY-MM-DD) of a Unix ms instant. */
const shanghaiDay = (t) => new Date(t + ZONE_OFFSET_MS).toISOString().slice(0, 10);
/** The instant (Unix ms) today began in Shanghai. */
const shanghaiTodayStart = (t = Date.now()) => Math.floor((t + ZONE_OFFSET_MS) / DAY_MS) * DAY_MS - ZONE_OFFSET_MS;
/** `d` (YYYY-MM-DD) plus `n` days. */
const addDays = (d, n) => new Date(Date.parse(`${d}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);

// ---------- cards ----------

/** Card i's id: 32 lowercase hex (the routes' card_id pattern), md5 of 'bench-card-<i>' (the seed SQL computes the same). */
const cardId = (i) => createHash('md5').update(`bench-card-${i}`).digest('hex');
const cardTitle = (i) => `Bench coupon ${i}`;

// ---------- the seed ----------

/** The distribution in SQL, `$6` rows: facts of the seed ($2 cards, $3 members, instants uniform from $4 over $5 days). */
const SEED_SQL = `
  INSERT INTO dashboard.rebuild_event (crm_id, kind, card_id, title, member_no, count, channel, occurred_at, day_of)
  SELECT $1, CASE WHEN r.claim THEN 'claim' ELSE 'redeem' END, md5('bench-card-' || r.card), 'Bench coupon ' || r.card, 'm' || r.member,
         CASE WHEN r.claim THEN 1 + floor(random() * 3)::int ELSE 1 END,
         CASE WHEN r.claim THEN ($7::text[])[1 + floor(random() * ${CLAIM_CHANNELS.length})::int]
              ELSE ($8::text[])[1 + floor(random() * ${STORES.length})::int] END,
         r.at, r.at
    FROM (SELECT random() < ${CLAIM_SHARE} AS claim,
                 floor($2::int * power(random(), ${CARD_SKEW}))::int AS card,
                 floor(random() * $3::int)::int AS member,
                 $4::timestamptz + random() * $5::int * interval '1 day' AS at
            FROM generate_series(1, $6::int)) AS r`;

/**
 * Stages `events` facts of tenant `crmId` in chunks of SEED_CHUNK (instants uniform over
 * `days` days from `from`, Unix ms), calling `onChunk(done)` after each; then ANALYZE.
 */
async function stageSeed(db, { crmId, events, cards, members, days, from }, onChunk = () => undefined) {
  for (let done = 0; done < events;) {
    const n = Math.min(SEED_CHUNK, events - done);
    await db.query(SEED_SQL, [crmId, cards, members, new Date(from).toISOString(), days, n, CLAIM_CHANNELS, STORES]);
    done += n;
    onChunk(done);
  }
  await db.query('ANALYZE dashboard.rebuild_event');
}

/** VACUUM ANALYZE of the rollups and applied_event (what autovacuum would do after such a load; the CI server runs without it). */
const vacuumRollups = (db) => db.query(`VACUUM (ANALYZE) ${ROLLUP_TABLES.map((t) => `dashboard.${t}`).join(', ')}, dashboard.applied_event`);

// ---------- the builder (dashboard:rebuild) as a child process ----------

/**
 * `node dist/apps/dashboard-service/main.js rebuild --crm-id <crmId> --source staged [args]`
 * with `env`, its output kept in <logDir>/<label>.log: exit code, output, wall ms, and the
 * builder's own time when it printed one.
 */
function rebuildCli({ env, logDir, crmId }, label, ...args) {
  const main = path.join(lib.ROOT, 'dist', 'apps', 'dashboard-service', 'main.js');
  const logFile = path.join(logDir, `${label}.log`);
  const child = spawn(process.execPath, [main, 'rebuild', '--crm-id', crmId, '--source', 'staged', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = lib.adoptChild(label, child, logFile);
  const t0 = lib.now();
  let out = '';
  let err = '';
  child.stdout.on('data', (b) => (out += b));
  child.stderr.on('data', (b) => (err += b));
  return proc.exited.then(({ code, signal }) => {
    const wallMs = lib.now() - t0;
    fs.writeFileSync(logFile, `${out}${err ? `\n--- stderr ---\n${err}` : ''}`);
    const own = /fact\(s\) in ([\d.]+) s/.exec(out);
    return { code, signal, out, err, wallMs, ownMs: own ? Number(own[1]) * 1000 : null };
  });
}

module.exports = {
  DAY_MS,
  ZONE_OFFSET_MS,
  CLAIM_SHARE,
  CARD_SKEW,
  CLAIM_CHANNELS,
  STORES,
  SEED_CHUNK,
  NO_NEXT_DAY,
  ROLLUP_TABLES,
  shanghaiDay,
  shanghaiTodayStart,
  addDays,
  cardId,
  cardTitle,
  SEED_SQL,
  stageSeed,
  vacuumRollups,
  rebuildCli,
};
