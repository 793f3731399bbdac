#!/usr/bin/env node
'use strict';
/**
 * bench:console — how soon the ops console's dashboard is on screen for the big tenant,
 * measured by the browser's own clock: the page marks `console:dashboard-rendered` once
 * its charts have drawn and its tables are filled, and the figure is that mark's time
 * since the navigation began. Against the floor of the same three reads in PostgreSQL.
 *
 *   node bench/console.js [--events N] [--days N] [--cards N] [--members N] [--loads N] [--range-days N]
 *   (npm run bench:console builds dist, the console included, first, then runs this)
 *   CI smoke: node bench/console.js --events 50000 --members 5000 --loads 3
 *
 * What it does, in order:
 *   1. drops and creates the database `bench_console`, flushes Redis logical db 15; boots
 *      the gateway (which serves dist/console at /console/), dashboard-service and
 *      card-service (the page asks it for its card filter list) from dist/, and issues an
 *      admin key of the tenant with the root key;
 *   2. seeds the tenant of bench:dashboard (bench/dashboard-seed.js: --events facts over
 *      --days days, --cards cards, --members members, staged by SQL, the set-based
 *      builder, then VACUUM ANALYZE);
 *   3. launches headless Chromium (Debian's /usr/bin/chromium, or CHROMIUM_PATH) with
 *      playwright-core; signs in once through the form with the admin key and keeps what
 *      the page stored in sessionStorage. Then 3 warm-up loads and --loads measured ones,
 *      each in a fresh browser context (empty cache, nothing kept: a first visit), its
 *      sessionStorage set to the signed-in one before the page's scripts run, a full
 *      navigation to /console/: the dashboard (the default screen) restores the session
 *      (GET /api/crm/console/session), asks card_trend, card_channel and card_top of the
 *      last 30 days at once, draws, marks. The figure: the mark's startTime (ms since the
 *      navigation began). Per load also, from the page's Resource Timing: each API call's
 *      duration, and when the page had its scripts (DOMContentLoaded), its session and its
 *      data. With --range-days other than the page's own 30, each load then sets the range
 *      in the form and presses dash-apply, and the figure is apply -> mark;
 *   4. the floor: the same three reads (bench/sql/dashboard-reads.js: the trend of all
 *      cards, the channel counts, top then its titles) directly in PostgreSQL through a pg
 *      Pool of DB_POOL_SIZE (the apps' jit=off), all three at once as the page sends them,
 *      3 warm-up then --loads times;
 *   5. the first-load transfer: index.html and every script and style sheet the page
 *      loaded (its own Resource Timing) and every one index.html names, fetched from the
 *      gateway and gzipped here (zlib, default level), against 500 KB (the console's budget,
 *      as apps/console/scripts/first-load-size.js counts it);
 *   6. invariants: every load marked once within 30 s with no page error; the page asked
 *      the range measured; its totals tiles (total-receive_num, total-redeem_num) equal
 *      the API's card_trend answer for the range, fetched once from here, which equals its
 *      statements run directly; the first load within budget;
 *   7. summary and a RESULT line; exit 1 if an invariant fails, 2 on error. The browser
 *      and the children are closed in every case.
 *
 * Target (issue): the dashboard rendered in under 1 s (p95) for the 5M-fact tenant.
 *
 * Environment: BENCH_PG_ADMIN_URL, BENCH_REDIS_URL (bench/lib.js), CHROMIUM_PATH (default
 * /usr/bin/chromium); DB_POOL_SIZE (default 10) and LOG_LEVEL are passed to the apps when
 * set. CONSOLE_TRACE=file: one more load after the measured ones, not counted, recorded with
 * Chromium's tracing (and the JS sampling profiler) into that file, to see where the page's
 * main thread spends its time.
 */
const { randomBytes } = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const zlib = require('node:zlib');
const { Client, Pool } = require('pg');
const lib = require('./lib');
const seed = require('./dashboard-seed');
const { SQL } = require('./sql/dashboard-reads');

const { appEnv, waitForHealth, now, fmt, secs, freePort, sha, spawnApp, pgSettings, call, percentiles, ms } = lib;
const { DAY_MS, NO_NEXT_DAY, shanghaiDay, shanghaiTodayStart, addDays } = seed;
const DB_NAME = 'bench_console';
const REDIS_DB = 15;
const CRM_ID = 'crm_bench_console';
const DATABASE_URL = lib.databaseUrl(DB_NAME);
const REDIS_URL = lib.redisUrl(REDIS_DB);
const TARGET = { renderP95Ms: 1_000 };
/** The console's first-load budget, gzipped (apps/console/scripts/first-load-size.js counts KB of 1,024 bytes). */
const BUDGET_BYTES = 500 * 1024;
/** The page's mark (apps/console/src/views/DashboardView.vue, RENDERED_MARK): keep in step. */
const MARK = 'console:dashboard-rendered';
/** The range the dashboard loads by itself (apps/console/src/dates.ts, last30Days). */
const PAGE_RANGE_DAYS = 30;
/** The top lists' length the page asks (DashboardView.vue: dashboard.top(crm, asked, 10)). */
const TOP_LIMIT = 10;
/** Loads (and floor rounds) before the measured ones, not counted. */
const WARMUP = 3;
/** A load that has not marked by then is a failure. */
const LOAD_TIMEOUT_MS = 30_000;
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
/** CONSOLE_TRACE=file: after the measured loads, one more (not counted) traced by Chromium into that file. */
const TRACE_PATH = process.env.CONSOLE_TRACE || null;
/** What DevTools' Performance panel records, with the JS sampling profiler (call stacks). */
const TRACE_CATEGORIES = [
  'toplevel',
  'devtools.timeline',
  'disabled-by-default-devtools.timeline',
  'disabled-by-default-devtools.timeline.frame',
  'v8.execute',
  'blink.user_timing',
  'loading',
  'disabled-by-default-v8.cpu_profiler',
];
const CONSOLE_INDEX = path.join(lib.ROOT, 'dist', 'console', 'index.html');
/** The page's calls, by a piece of their path. */
const CALLS = [
  ['session', '/api/crm/console/session'],
  ['card_trend', '/card_trend?'],
  ['card_channel', '/card_channel?'],
  ['card_top', '/card_top?'],
  ['card_list', '/list?'],
];
const DATA_CALLS = ['card_trend', 'card_channel', 'card_top'];

// ---------- options ----------

const USAGE = 'usage: node bench/console.js [--events N] [--days N] [--cards N] [--members N] [--loads N] [--range-days N]';

function parseArgs(argv) {
  const opts = lib.parseOptions(argv, {
    usage: USAGE,
    defaults: { events: 5_000_000, days: 180, cards: 200, members: 200_000, loads: 20, rangeDays: PAGE_RANGE_DAYS },
    flags: {
      '--events': 'events',
      '--days': 'days',
      '--cards': 'cards',
      '--members': 'members',
      '--loads': 'loads',
      '--range-days': 'rangeDays',
    },
  });
  if (opts.rangeDays > 366) throw new Error("--range-days is at most 366 (the routes' limit)");
  if (opts.days > 3_650) throw new Error('--days is at most 3,650');
  if (opts.cards > 100_000) throw new Error('--cards is at most 100,000');
  return opts;
}

/** playwright-core (a devDependency) and a Chromium it can drive, or a clear refusal. */
function browserKit() {
  let chromium;
  try {
    ({ chromium } = require('playwright-core'));
  } catch (err) {
    throw new Error(`playwright-core is missing (${err.message}): run npm ci (it is a devDependency)`);
  }
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH`);
  return chromium;
}

lib.stopOnSignals();

const latLine = (l) => `p50 ${ms(l.p50)}  p95 ${ms(l.p95)}  max ${ms(l.max)}`;
const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;

// ---------- the page ----------

/** What one load of the dashboard shows and how long it took, read from the page. */
function readPage(since) {
  // Runs in the page: `since` is 0 for a navigation, or the apply click's performance.now().
  const marks = performance.getEntriesByName('console:dashboard-rendered').filter((e) => e.startTime >= since);
  const nav = performance.getEntriesByType('navigation')[0];
  const text = (id) => {
    const el = globalThis.document.querySelector(`[data-testid="${id}"]`);
    return el ? el.textContent.trim() : null;
  };
  return {
    mark: marks.length ? marks[0].startTime : null,
    marks: marks.length,
    dcl: nav ? nav.domContentLoadedEventEnd : null,
    // The page's milestones (session known, charts' chunk loaded, reads asked and answered): the first of each since `since`.
    steps: Object.fromEntries(
      ['console:session', 'console:charts-loaded', 'console:dashboard-asked', 'console:dashboard-answered'].map((n) => {
        const e = performance.getEntriesByName(n).find((x) => x.startTime >= since);
        return [n.slice('console:'.length), e ? e.startTime - since : null];
      }),
    ),
    resources: performance
      .getEntriesByType('resource')
      .filter((e) => e.startTime >= since)
      .map((e) => ({ name: e.name, type: e.initiatorType, start: e.startTime, end: e.responseEnd, duration: e.duration })),
    receive: text('total-receive_num'),
    redeem: text('total-redeem_num'),
    error: text('dash-error'),
  };
}

/**
 * One load in a fresh context (empty cache), signed in by `stored` (the sessionStorage
 * entries the form left): the page read at its mark, plus the page errors seen.
 */
async function loadOnce(browser, base, stored, range, tracePath = null) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: 'zh-CN' });
  try {
    await context.addInitScript((entries) => {
      if (!globalThis.location.pathname.startsWith('/console')) return;
      for (const [k, v] of entries) sessionStorage.setItem(k, v);
    }, stored);
    const page = await context.newPage();
    const pageErrors = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (m) => m.type() === 'error' && pageErrors.push(`console: ${m.text()}`));
    if (tracePath) await browser.startTracing(page, { path: tracePath, screenshots: true, categories: TRACE_CATEGORIES });
    await page.goto(`${base}/console/`, { waitUntil: 'commit' });
    await page.waitForFunction((m) => performance.getEntriesByName(m).length > 0, MARK, { timeout: LOAD_TIMEOUT_MS, polling: 20 });
    if (tracePath) await browser.stopTracing();
    let since = 0;
    if (range.viaForm) {
      await page.getByTestId('dash-start').fill(range.start);
      await page.getByTestId('dash-end').fill(range.end);
      since = await page.evaluate(() => performance.now());
      await page.getByTestId('dash-apply').click();
      await page.waitForFunction(([m, t]) => performance.getEntriesByName(m).some((e) => e.startTime >= t), [MARK, since], {
        timeout: LOAD_TIMEOUT_MS,
        polling: 20,
      });
    }
    await page.waitForTimeout(50); // a second mark of the same load, if the page ever set one, would show here
    const seen = await page.evaluate(readPage, since);
    return { ...seen, since, pageErrors };
  } finally {
    await context.close();
  }
}

/** The figures of one load: render ms, each call's duration, the moments of the load. */
function figuresOf(load) {
  const call = {};
  for (const [name, piece] of CALLS) {
    const e = load.resources.find((r) => r.name.includes(piece));
    if (e) call[name] = e;
  }
  const data = DATA_CALLS.map((n) => call[n]).filter(Boolean);
  const q = call.card_trend ? new URL(call.card_trend.name).searchParams : null;
  return {
    renderMs: load.mark === null ? null : load.mark - load.since,
    call,
    asked: q ? { start: q.get('start_date'), end: q.get('end_date'), card: q.get('card_id') } : null,
    dataStart: data.length === 3 ? Math.min(...data.map((e) => e.start)) - load.since : null,
    dataEnd: data.length === 3 ? Math.max(...data.map((e) => e.end)) - load.since : null,
  };
}

// ---------- the first load's bytes ----------

/** index.html, the scripts and style sheets the page loaded and those index.html names: each one's bytes and gzipped bytes. */
async function firstLoadBytes(base, loadedUrls) {
  const html = await (await fetch(`${base}/console/`)).text();
  const named = [...html.matchAll(/<(?:script[^>]*\ssrc|link[^>]*\shref)="([^"]+)"/g)].map((m) => new URL(m[1], `${base}/console/`).href);
  const assets = [...new Set([...named, ...loadedUrls])].filter((u) => /\.(m?js|css)(\?|$)/.test(new URL(u).pathname));
  const files = [{ url: `${base}/console/`, raw: Buffer.byteLength(html), gz: zlib.gzipSync(html).length }];
  for (const url of assets) {
    const res = await fetch(url);
    if (res.status !== 200) throw new Error(`${url} answered HTTP ${res.status}`);
    const body = Buffer.from(await res.arrayBuffer());
    files.push({ url, raw: body.length, gz: zlib.gzipSync(body).length });
  }
  return { files, raw: files.reduce((a, f) => a + f.raw, 0), gz: files.reduce((a, f) => a + f.gz, 0) };
}

// ---------- the floor ----------

/** The page's three reads as the service runs them, all three at once: trend (one statement), channel counts, top then its titles. */
async function floorRound(pool, range) {
  const [trend] = await Promise.all([
    pool.query(SQL.trend(false), [CRM_ID, range.start, range.end, '', NO_NEXT_DAY]),
    pool.query(SQL.channelCounts(false), [CRM_ID, range.start, range.end]),
    (async () => {
      const rows = (await pool.query(SQL.top, [CRM_ID, range.start, range.end, TOP_LIMIT])).rows;
      if (rows.length) await pool.query(SQL.titles, [CRM_ID, [...new Set(rows.map((r) => r.card_id))]]);
    })(),
  ]);
  const days = trend.rows.filter((r) => r.kind === 'day');
  return { claims: days.reduce((a, r) => a + Number(r.a), 0), redeems: days.reduce((a, r) => a + Number(r.b), 0) };
}

// ---------- main ----------

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const chromium = browserKit();
  if (!fs.existsSync(CONSOLE_INDEX)) throw new Error(`${CONSOLE_INDEX} is missing: build first (npm run build builds the console too)`);
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-console-'));
  const rootKey = `root-${randomBytes(12).toString('hex')}`;
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const startedAt = new Date();

  console.log(
    `bench:console  events=${fmt(opts.events)}  days=${opts.days}  cards=${fmt(opts.cards)}  members=${fmt(opts.members)}  loads=${opts.loads} (+${WARMUP} warm-up)  ` +
      `range=${opts.rangeDays} d  db=${DB_NAME}  redis db=${REDIS_DB}  chromium=${CHROMIUM}`,
  );
  console.log(lib.machineLine());
  console.log(`logs: ${logDir}`);

  await lib.resetStores(DB_NAME, REDIS_URL);
  const pass = (name) => (process.env[name] ? { [name]: process.env[name] } : {});
  const env = appEnv({ databaseUrl: DATABASE_URL, redisUrl: REDIS_URL, rootKey, port }, { ...pass('DB_POOL_SIZE'), ...pass('LOG_LEVEL') });
  const procs = ['gateway', 'dashboard-service', 'card-service'].map((app) => spawnApp(app, env, logDir));
  console.log(`dist: ${procs.map((p) => `${p.app} ${sha(p.main)}`).join(', ')}, console ${sha(CONSOLE_INDEX)} (sha256 prefix of main.js / index.html)`);
  const bootT0 = now();
  await waitForHealth(base, procs, 90_000, { service: 'dashboard', instances: 1 });
  await waitForHealth(base, procs, 90_000, { service: 'card', instances: 1 });
  console.log(`apps up in ${secs(now() - bootT0)} (${procs.map((p) => `${p.app} pid ${p.child.pid}`).join(', ')})`);
  const issued = await call(base, rootKey, 'POST', `/api/crm/keys/${CRM_ID}`, { scope: 'admin' });
  if (issued.status !== 200 || issued.body.code !== 0) throw new Error(`issuing an admin key answered HTTP ${issued.status}: ${JSON.stringify(issued.body)}`);
  const adminKey = issued.body.data.key;

  const db = new Client({ connectionString: DATABASE_URL, application_name: 'bench-console' });
  await db.connect();
  const pool = new Pool({ connectionString: DATABASE_URL, max: Number(env.DB_POOL_SIZE), application_name: 'bench-console-floor', options: '-c jit=off' }); // the apps' session settings (libs/platform/src/database.ts)
  let browser = null;
  try {
    const settings = await pgSettings(db, ['autovacuum', 'work_mem']);
    const pgVersion = (await db.query('SHOW server_version')).rows[0].server_version;

    // ---- 1. seed: the bench:dashboard tenant
    const todayStart = shanghaiTodayStart();
    const seedFrom = todayStart - opts.days * DAY_MS;
    const seedT0 = now();
    await seed.stageSeed(db, { crmId: CRM_ID, events: opts.events, cards: opts.cards, members: opts.members, days: opts.days, from: seedFrom }, (done) =>
      console.log(`seed: ${fmt(done)} / ${fmt(opts.events)} facts staged (${secs(now() - seedT0)})`),
    );
    const seedMs = now() - seedT0;
    console.log(`seed: days ${shanghaiDay(seedFrom)}..${shanghaiDay(todayStart - 1)} (Shanghai)`);
    process.stdout.write(`build: rebuild --source staged --apply of ${fmt(opts.events)} facts ... `);
    const build = await seed.rebuildCli({ env, logDir, crmId: CRM_ID }, 'rebuild-apply', '--apply');
    if (build.code !== 0) throw new Error(`the builder (--apply) exited with ${build.code ?? build.signal}:\n${build.out}\n${build.err}`);
    console.log(secs(build.wallMs));
    const vacT0 = now();
    await seed.vacuumRollups(db);
    console.log(`VACUUM ANALYZE of the rollups ${secs(now() - vacT0)}`);
    await db.query('CHECKPOINT');

    // ---- 2. the range (the server's today, as the page gets it) and the API's answer for it
    const sess = await call(base, adminKey, 'GET', '/api/crm/console/session');
    if (sess.status !== 200 || sess.body.code !== 0) throw new Error(`GET /api/crm/console/session answered HTTP ${sess.status}: ${JSON.stringify(sess.body)}`);
    const today = sess.body.data.today;
    const range = { start: addDays(today, -(opts.rangeDays - 1)), end: today, viaForm: opts.rangeDays !== PAGE_RANGE_DAYS };
    const trendRes = await call(base, adminKey, 'GET', `/api/crm/dashboard/${CRM_ID}/card_trend?start_date=${range.start}&end_date=${range.end}`);
    if (trendRes.status !== 200 || trendRes.body.code !== 0) throw new Error(`card_trend answered HTTP ${trendRes.status}: ${JSON.stringify(trendRes.body)}`);
    const api = trendRes.body.data;
    const truth = await floorRound(pool, range);
    console.log(
      `range ${range.start}..${range.end} (${opts.rangeDays} d, today ${today} in ${sess.body.data.tz}${range.viaForm ? '; set through the form, the figure is apply -> rendered' : ''}): ` +
        `card_trend receive_num ${fmt(api.receive_num)}, redeem_num ${fmt(api.redeem_num)}`,
    );

    // ---- 3. the page
    // Ctrl-C / SIGTERM: lib.stopOnSignals stops the apps and exits; Playwright's exit handler then kills the browser.
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox'],
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
    });
    const browserVersion = browser.version();
    const signInCtx = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: 'zh-CN' });
    let stored;
    try {
      const page = await signInCtx.newPage();
      await page.goto(`${base}/console/`);
      await page.getByTestId('signin-key').fill(adminKey);
      await page.getByTestId('signin-submit').click();
      await page.getByTestId('current-crm').waitFor({ timeout: LOAD_TIMEOUT_MS });
      const shown = (await page.getByTestId('current-crm').textContent()).trim();
      if (shown !== CRM_ID) throw new Error(`the page signed in as "${shown}", not ${CRM_ID}`);
      stored = await page.evaluate(() => Object.entries(sessionStorage));
    } finally {
      await signInCtx.close();
    }
    if (!stored.length) throw new Error('the page kept nothing in sessionStorage after signing in');
    console.log(
      `browser: Chromium ${browserVersion}; signed in through the form, sessionStorage keys ${stored.map(([k]) => k).join(', ')}; ${WARMUP} warm-up loads, then ${opts.loads}, each in a fresh context (empty cache)`,
    );

    const loads = [];
    for (let i = 0; i < WARMUP + opts.loads; i++) {
      for (const p of procs) if (lib.isGone(p)) throw new Error(`${p.app} died during the loads; see ${p.logFile}`);
      let load;
      try {
        load = await loadOnce(browser, base, stored, range);
      } catch (err) {
        load = { failure: err.message.split('\n')[0], pageErrors: [] };
      }
      const f = load.failure ? null : figuresOf(load);
      if (i >= WARMUP) loads.push({ ...load, f });
      const tag = i < WARMUP ? `warm-up ${i + 1}` : `load ${i - WARMUP + 1}`;
      console.log(
        `  ${tag.padEnd(10)} ` +
          (load.failure
            ? `FAILED: ${load.failure}`
            : `rendered ${ms(f.renderMs)} ms  (${range.viaForm ? 'from the apply' : `scripts ${ms(load.dcl)}`}, data ${ms(f.dataStart)}..${ms(f.dataEnd)}; ` +
              `${DATA_CALLS.map((n) => `${n} ${ms(f.call[n] && f.call[n].duration)}`).join(', ')}; ` +
              `${Object.entries(load.steps)
                .map(([k, v]) => `${k} ${ms(v)}`)
                .join(', ')})  tiles ${load.receive}/${load.redeem}` +
              (load.pageErrors.length ? `  page errors: ${load.pageErrors.length}` : '')),
      );
    }
    if (TRACE_PATH) {
      // One more load, not counted: Chromium's own trace of it (open it in chrome://tracing,
      // DevTools' Performance panel or ui.perfetto.dev). A failure here fails no invariant.
      try {
        const traced = await loadOnce(browser, base, stored, range, TRACE_PATH);
        console.log(`  traced     rendered ${ms(traced.mark - traced.since)} ms; Chromium trace written to ${TRACE_PATH}`);
      } catch (err) {
        console.log(`  traced     FAILED: ${err.message.split('\n')[0]}`);
      }
    }
    const good = loads.filter((l) => !l.failure && l.f.renderMs !== null);
    const render = percentiles(good.map((l) => l.f.renderMs));
    const callLat = Object.fromEntries(CALLS.map(([n]) => [n, percentiles(good.filter((l) => l.f.call[n]).map((l) => l.f.call[n].duration))]));
    const phase = (k) => percentiles(good.map((l) => l.f[k]).filter((v) => v !== null));
    const dcl = percentiles(good.map((l) => l.dcl).filter((v) => v !== null));
    const sessionEnd = percentiles(good.filter((l) => l.f.call.session).map((l) => l.f.call.session.end));
    const dataStart = phase('dataStart');
    const dataEnd = phase('dataEnd');

    // ---- 4. the floor
    for (let i = 0; i < WARMUP; i++) await floorRound(pool, range);
    const floorLat = [];
    for (let i = 0; i < opts.loads; i++) {
      const t = now();
      await floorRound(pool, range);
      floorLat.push(now() - t);
    }
    const floor = percentiles(floorLat);
    const ratio = render.p50 / floor.p50;
    console.log(`floor: the three reads in PostgreSQL at once, ${opts.loads} rounds after ${WARMUP}: ${latLine(floor)} ms`);

    // ---- 5. the first load's bytes
    const loaded = good.length ? good[0].resources.filter((r) => r.name.startsWith(`${base}/console/`)).map((r) => r.name) : [];
    const bytes = await firstLoadBytes(base, loaded);
    for (const f of bytes.files) console.log(`  ${String(f.gz).padStart(9)} B gz  ${String(f.raw).padStart(9)} B  ${f.url.slice(base.length)}`);

    // ---- 6. invariants
    const failed = loads.filter((l) => l.failure);
    const withErrors = loads.filter((l) => l.pageErrors && l.pageErrors.length);
    const marksBad = good.filter((l) => l.marks !== 1);
    const askedBad = good.filter((l) => !l.f.asked || l.f.asked.start !== range.start || l.f.asked.end !== range.end || l.f.asked.card);
    const isInt = (t) => typeof t === 'string' && /^\d+$/.test(t);
    const tilesBad = good.filter((l) => !isInt(l.receive) || !isInt(l.redeem) || Number(l.receive) !== api.receive_num || Number(l.redeem) !== api.redeem_num);
    const first = (list, show) => (list.length ? `; first: ${show(list[0])}` : '');
    const checks = [
      [
        `every load rendered (marked within ${LOAD_TIMEOUT_MS / 1000} s) with no page error`,
        failed.length === 0 && withErrors.length === 0 && good.length === opts.loads,
        `${good.length} of ${opts.loads} rendered, ${withErrors.length} with page errors` +
          first(failed, (l) => l.failure) +
          first(withErrors, (l) => l.pageErrors[0]),
      ],
      ['the page marked once per load', marksBad.length === 0, `${marksBad.length} loads with another count${first(marksBad, (l) => l.marks)}`],
      [
        'the page asked the range measured, all cards',
        askedBad.length === 0,
        `${askedBad.length} loads asked another${first(askedBad, (l) => JSON.stringify(l.f.asked))}`,
      ],
      [
        "the page's totals tiles = the API's card_trend",
        tilesBad.length === 0,
        `receive_num ${api.receive_num}, redeem_num ${api.redeem_num}; ${tilesBad.length} loads differ${first(tilesBad, (l) => `${l.receive}/${l.redeem}${l.error ? ` (${l.error})` : ''}`)}`,
      ],
      [
        "the API's card_trend totals = its statements run directly",
        api.receive_num === truth.claims && api.redeem_num === truth.redeems,
        `receive_num ${api.receive_num} vs ${truth.claims}, redeem_num ${api.redeem_num} vs ${truth.redeems}`,
      ],
      [`first load within ${kb(BUDGET_BYTES)} gzipped`, bytes.gz <= BUDGET_BYTES, `${kb(bytes.gz)} in ${bytes.files.length} files`],
    ];
    const invOk = checks.every((c) => c[1]);

    // ---- 7. summary
    const met = render.p95 !== null && render.p95 < TARGET.renderP95Ms;
    const line = (k, v) => console.log(`  ${k.padEnd(34)} ${v}`);
    console.log('');
    console.log('================ bench:console summary ================');
    line('date', startedAt.toISOString());
    line(
      'machine',
      `${os.cpus().length} cores, load ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')} (after), PostgreSQL ${pgVersion}, node ${process.version}, Chromium ${browserVersion}`,
    );
    line('postgres settings', settings);
    line('apps', `gateway + dashboard-service (api + worker) + card-service, DB_POOL_SIZE=${env.DB_POOL_SIZE}`);
    line(
      'tenant',
      `${fmt(opts.events)} claim/redeem facts over ${opts.days} days, ${fmt(opts.cards)} cards, ${fmt(opts.members)} members (staged ${secs(seedMs)}, built ${secs(build.wallMs)})`,
    );
    line(
      'range',
      `${range.start}..${range.end} (${opts.rangeDays} d)${range.viaForm ? ', set through the form: apply -> rendered' : ", the page's default: navigation -> rendered"}`,
    );
    line('loads', `${good.length} measured of ${opts.loads} (+${WARMUP} warm-up), each a fresh context (empty cache)`);
    line('  rendered (the mark), ms', latLine(render));
    line('  scripts run (DOMContentLoaded)', range.viaForm ? 'n/a (apply)' : latLine(dcl));
    line('  session answered', range.viaForm ? 'n/a (apply)' : latLine(sessionEnd));
    line('  data asked .. all three in', `p50 ${ms(dataStart.p50)} .. ${ms(dataEnd.p50)}  (p95 ${ms(dataStart.p95)} .. ${ms(dataEnd.p95)})`);
    for (const [n] of CALLS) line(`  ${n} duration`, latLine(callLat[n]));
    line('floor: the 3 reads in pg at once', `${latLine(floor)} ms (pg Pool of ${env.DB_POOL_SIZE}, jit=off)`);
    line('render p50 / floor p50', `${ms(render.p50)} / ${ms(floor.p50)} ms = ${ratio.toFixed(1)}x`);
    line('first load', `${kb(bytes.gz)} gzipped (${kb(bytes.raw)} raw) in ${bytes.files.length} files; budget ${kb(BUDGET_BYTES)}`);
    line('target', `rendered < ${fmt(TARGET.renderP95Ms)} ms at p95: ${met ? 'MET' : 'NOT MET'} (p95 ${ms(render.p95)} ms)`);
    for (const [name, ok, detail] of checks) console.log(`    [${ok ? 'ok' : 'FAIL'}] ${name} (${detail})`);
    line('invariants', invOk ? 'HOLD' : 'BROKEN');
    line('logs', logDir);
    console.log('=======================================================');
    console.log(
      `RESULT events=${opts.events} days=${opts.days} cards=${opts.cards} members=${opts.members} range_days=${opts.rangeDays} loads=${opts.loads} ` +
        `render_p50_ms=${ms(render.p50)} render_p95_ms=${ms(render.p95)} render_max_ms=${ms(render.max)} ` +
        DATA_CALLS.map((n) => `${n}_p50_ms=${ms(callLat[n].p50)}`).join(' ') +
        ` floor_p50_ms=${ms(floor.p50)} floor_p95_ms=${ms(floor.p95)} ratio_p50=${ratio.toFixed(2)} ` +
        `first_load_gz_kb=${(bytes.gz / 1024).toFixed(1)} render_target=${met ? 'met' : 'not_met'} invariants=${invOk ? 'ok' : 'broken'}`,
    );
    return invOk ? 0 : 1;
  } finally {
    if (browser) await browser.close().catch(() => undefined);
    await pool.end().catch(() => undefined);
    await db.end().catch(() => undefined);
  }
}

lib.runMain('bench:console', main);
