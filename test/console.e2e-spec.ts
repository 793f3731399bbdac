import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Browser, BrowserContext, chromium, Page } from 'playwright-core';
import { Answer, cardBody, Suite } from './support/suite';
import { uid } from './support/expect';

/** Debian's chromium (`.ci/run` installs it); CHROMIUM_PATH names another. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Where the screens' screenshots go: a temp dir, or docs/console with `npm run console:screenshots`. */
const SHOTS = process.env.CONSOLE_SCREENSHOT_DIR ?? path.join(tmpdir(), 'loyalty-console-shots');
const DAY_MS = 86_400_000;

/**
 * The ops console at /console/, served by the gateway, driven in a real headless Chromium
 * against the real apps: sign-in (wrong key, client key, admin key, keyboard only), the
 * language switch, the stock bar reaching 100% for a card created in the page, claims and
 * redemptions made through the API shown exactly on the dashboard (totals, the trend's
 * day, channels, the top tables) and in the member lookup, the create form showing the
 * API's own field error under the field. The page's numbers are read from the tables each
 * chart carries (a canvas cannot be read), and compared with the API's answer and with
 * what the test did.
 */
describe('ops console (headless Chromium)', () => {
  let s: Suite;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const crm = 'crm_console';
  let adminKey: string;
  let clientKey: string;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH`);
    mkdirSync(SHOTS, { recursive: true });
    s = await Suite.start({
      name: 'console',
      services: ['card-service', 'points-service', 'dashboard-service'],
      controlClock: true,
      env: { OUTBOX_POLL_MS: '50' },
    });
    adminKey = (await s.post(`/api/crm/keys/${crm}`, { scope: 'admin' })).body.data.key;
    clientKey = (await s.post(`/api/crm/keys/${crm}`, { scope: 'client' })).body.data.key;
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--lang=zh-CN'] });
  });
  afterAll(async () => {
    await browser?.close();
    await s?.stop();
  });
  beforeEach(async () => {
    context = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: 'zh-CN' });
    page = await context.newPage();
  });
  afterEach(async () => {
    await context?.close();
  });

  const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  const open = (p = '') => page.goto(s.url(`/console/${p}`));

  async function signIn(key: string, crmId = ''): Promise<void> {
    await open();
    await page.getByTestId('signin-key').fill(key);
    if (crmId) await page.getByTestId('signin-crm').fill(crmId);
    await page.getByTestId('signin-submit').click();
  }
  const signedIn = () => page.getByTestId('current-crm').waitFor();

  describe('the gateway', () => {
    it('serves the page at /console/ with its security headers, any page path as the page, and 404 for a missing asset', async () => {
      const home = await fetch(s.url('/console/'));
      expect(home.status).toBe(200);
      expect(home.headers.get('content-type')).toMatch(/text\/html/);
      expect(home.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
      expect(home.headers.get('cache-control')).toBe('no-cache');
      const html = await home.text();
      expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org)/); // nothing from another origin
      const asset = /\/console\/assets\/[^"]+\.js/.exec(html)![0];
      const js = await fetch(s.url(asset));
      expect(js.status).toBe(200);
      expect(js.headers.get('cache-control')).toMatch(/immutable/);
      const deep = await fetch(s.url('/console/member'));
      expect(deep.status).toBe(200);
      expect(await deep.text()).toBe(html);
      expect((await fetch(s.url('/console/assets/missing-0000.js'))).status).toBe(404);
      const bare = await fetch(s.url('/console'), { redirect: 'manual' });
      expect({ status: bare.status, location: bare.headers.get('location') }).toEqual({ status: 301, location: '/console/' });
    });

    it('answers the session: the key scope, its tenant, the zone and today by the server clock; refuses client, unknown and tenant-less root keys', async () => {
      const session = await s.get(`/api/crm/console/session`, adminKey);
      const today = (offsetMs: number) => new Date(Date.now() + offsetMs + 8 * 3_600_000).toISOString().slice(0, 10); // Asia/Shanghai, no DST
      expect(session.body).toEqual({ code: 0, msg: 'ok', data: { scope: 'admin', crm_id: crm, tz: 'Asia/Shanghai', today: today(0) } });
      expect((await s.get(`/api/crm/console/session?crm_id=${crm}`)).body.data).toEqual({ scope: 'root', crm_id: crm, tz: 'Asia/Shanghai', today: today(0) });
      await s.setClock(3 * DAY_MS);
      try {
        expect((await s.get(`/api/crm/console/session`, adminKey)).body.data.today).toBe(today(3 * DAY_MS));
      } finally {
        await s.setClock(0);
      }
      const refused: Array<[string, Answer, number, number]> = [
        ['client key', await s.get(`/api/crm/console/session`, clientKey), 403, 40301],
        ['unknown key', await s.get(`/api/crm/console/session`, 'lk_not-a-key'), 401, 40101],
        ['root without crm_id', await s.get(`/api/crm/console/session`), 400, 40001],
        ['admin key naming another tenant', await s.get(`/api/crm/console/session?crm_id=other`, adminKey), 403, 40301],
      ];
      for (const [what, res, status, code] of refused) expect({ what, status: res.status, code: res.body.code }).toEqual({ what, status, code });
      expect(refused[0][1].body.msg).toMatch(/client key cannot sign in to the console/);
      expect(refused[2][1].body.errors).toEqual([{ field: 'crm_id', message: expect.stringMatching(/root key belongs to no tenant/) }]);
    });
  });

  describe('in the browser', () => {
    it('shows the sign-in error for a wrong key and for a client key, and stays on the sign-in page', async () => {
      await signIn('lk_wrong-key');
      await expect(page.getByTestId('signin-error').textContent()).resolves.toMatch(/unknown API key/);
      await shot('signin-error');
      await signIn(clientKey);
      await expect(page.getByTestId('signin-error').textContent()).resolves.toMatch(/client key cannot sign in to the console/);
      expect(await page.getByTestId('current-crm').count()).toBe(0);
      expect(await page.evaluate(() => Object.keys(sessionStorage).length)).toBe(0);
    });

    it("says so, and reloads, when a screen's script cannot be fetched (a page older than the console deployed)", async () => {
      await signIn(adminKey);
      await signedIn();
      // The cards screen is fetched when first shown: its file answers 404, as a removed build's would.
      let refused = 0;
      await page.route(/\/console\/assets\/CardsView-[^/]+\.js$/, (route) => {
        refused++;
        return route.fulfill({ status: 404, contentType: 'text/plain', body: 'not found' });
      });
      await page.getByTestId('nav-cards').click();
      await expect(page.getByTestId('screen-failed').textContent()).resolves.toMatch(/无法加载此页面/);
      expect(refused).toBe(1);
      expect(await page.getByTestId('cards-table').count()).toBe(0);
      // Reload, with the file there again: the cards screen, still signed in.
      await page.unroute(/\/console\/assets\/CardsView-[^/]+\.js$/);
      await page.getByTestId('screen-reload').click();
      await page.getByTestId('cards-table').waitFor();
      expect(await page.getByTestId('screen-failed').count()).toBe(0);
      expect(await page.getByTestId('current-crm').textContent()).toContain(crm);
    });

    it('signs in with the keyboard alone (Tab to the fields, Enter submits), in Chinese by default, and switches to English', async () => {
      await open();
      await page.getByTestId('signin-key').focus();
      await page.keyboard.type(adminKey);
      await page.keyboard.press('Enter');
      await signedIn();
      expect(await page.getByTestId('current-crm').textContent()).toContain(crm);
      const zh = await page.getByTestId('nav-dashboard').textContent();
      expect(zh).toMatch(/[\u4e00-\u9fff]/);
      await page.getByTestId('lang-toggle').click();
      const en = await page.getByTestId('nav-dashboard').textContent();
      expect(en).toMatch(/^[\x20-\x7e\s]+$/);
      expect(en).not.toBe(zh);
      // The key is kept for the tab only, and a reload keeps the session and the language.
      expect(await page.evaluate(() => Object.values(sessionStorage).join(' '))).toContain(adminKey);
      await page.reload();
      await signedIn();
      expect(await page.getByTestId('nav-dashboard').textContent()).toBe(en);
      // Every control of the shell is reached by Tab.
      const reached = new Set<string>();
      for (let i = 0; i < 30; i++) {
        await page.keyboard.press('Tab');
        const id = await page.evaluate(() => document.activeElement?.getAttribute('data-testid'));
        if (id) reached.add(id);
      }
      expect([...reached]).toEqual(expect.arrayContaining(['nav-dashboard', 'nav-cards', 'nav-stock', 'nav-member', 'lang-toggle', 'signout']));
    });

    it('the create form shows the API field error for a bad discount under the discount field', async () => {
      await signIn(adminKey);
      await signedIn();
      await page.getByTestId('nav-cards').click();
      await page.getByTestId('card-create-open').click();
      await fillCardForm({ title: '坏折扣', card_type: '1', discount: '1.5', total_quantity: '0' });
      await page.getByTestId('card-form-submit').click();
      const shown = await page.getByTestId('error-discount').textContent();
      const api = await s.post(`/api/crm/card/${crm}/create`, cardBody({ title: '坏折扣', card_type: 1, discount: 1.5 }), adminKey);
      expect(api.status).toBe(400);
      const apiMessage = (api.body.errors as Array<{ field: string; message: string }>).find((e) => e.field === 'discount')!.message;
      expect(shown?.trim()).toBe(apiMessage);
      expect(await s.sql(`SELECT count(*)::int AS n FROM card.card_info WHERE crm_id = $1 AND title = '坏折扣'`, [crm])).toEqual([{ n: 0 }]);
      await shot('card-form-error');
    });

    it("shows a stock job's failure with the API's reason: an imported card's file on a loopback address is refused", async () => {
      const card = await s.post(`/api/crm/card/${crm}/create`, cardBody({ title: '导入券', generate_type: 2, total_quantity: 0 }), adminKey);
      expect(card.body).toMatchObject({ code: 0 });
      const cardId = card.body.data.card_id as string;
      await signIn(adminKey);
      await signedIn();
      await page.getByTestId('nav-stock').click();
      await page.getByTestId('stock-card').selectOption(cardId);
      await page.getByTestId('stock-quantity').fill('5');
      const file = 'http://127.0.0.1:9/codes.csv';
      await page.getByTestId('stock-file').fill(file);
      await page.getByTestId('stock-submit').click();
      const shown = (await page.getByTestId('stock-error').textContent())!.trim();
      const generateId = (await page.locator('#stock-job-title').textContent())!.trim().split(/\s+/).pop()!;
      const status = (await s.get(`/api/crm/card/${crm}/stock/status?generate_id=${encodeURIComponent(generateId)}`, adminKey)).body.data;
      expect(status).toMatchObject({ status: 'failed', generated: 0 });
      expect(status.error).toMatch(/loopback address/);
      expect(shown).toBe(`失败：${status.error}`);
      expect(await page.getByTestId('stock-progress').getAttribute('aria-valuenow')).toBe('0');
      await shot('stock-failed');
    });

    it('creates a card, watches its stock reach 100%, and shows claims and redemptions made through the API exactly on the dashboard and in the member lookup', async () => {
      await signIn(adminKey);
      await signedIn();
      // A card created in the page, with no stock yet.
      await page.getByTestId('nav-cards').click();
      await page.getByTestId('card-create-open').click();
      const title = `看板券 ${uid('c').slice(-5)}`;
      const today = (await s.get(`/api/crm/console/session`, adminKey)).body.data.today as string;
      await fillCardForm({
        title,
        card_type: '1',
        discount: '0.8',
        total_quantity: '0',
        begin_time: `${shiftDay(today, -1)}T00:00`,
        end_time: `${shiftDay(today, 60)}T23:59`,
      });
      await page.getByTestId('card-form-submit').click();
      await page.locator('[data-testid="card-created"], [data-testid="card-form-error"]').first().waitFor();
      if (await page.getByTestId('card-form-error').count())
        throw new Error(`the form was refused: ${await page.locator('.card-form, .panel').first().innerText()}`);
      const cardId = (await page.getByTestId('card-created').textContent())!.match(/[0-9a-f]{32}/)![0];
      await shot('cards');

      // Stock added in the page: the bar climbs to 100%.
      await page.getByTestId('nav-stock').click();
      await page.getByTestId('stock-card').selectOption(cardId);
      await page.getByTestId('stock-quantity').fill('5000');
      await page.getByTestId('stock-submit').click();
      await page.waitForFunction(() => document.querySelector('[data-testid="stock-progress"]')?.getAttribute('aria-valuenow') === '100', undefined, {
        timeout: 60_000,
      });
      expect(await page.getByTestId('stock-status').textContent()).toMatch(/5,?000\s*\/\s*5,?000/);
      await shot('stock');

      // Claims and redemptions through the API: m1 claims 3 on wechat_mp, m2 claims 2 on 618大促; m1 redeems 2 at store_01, m2 1 at pos.
      const member = `/api/crm/card/${crm}/member`;
      const claim = async (memberNo: string, n: number, outStr: string) => {
        const res = await s.post(`${member}/receive`, { received_id: uid('rcv'), member_no: memberNo, out_str: outStr, card_info: { [cardId]: n } }, adminKey);
        expect(res.body).toMatchObject({ code: 0 });
        return res.body.data.map((c: { card_code: string }) => c.card_code) as string[];
      };
      const redeem = async (memberNo: string, code: string, channel: string) => {
        const res = await s.post(
          `${member}/redeem`,
          { member_no: memberNo, card_id: cardId, card_code: code, redeem_channel: channel, redeem_id: uid('rdm'), redeem_extra: '' },
          adminKey,
        );
        expect({ code: res.body.code, errors: res.body.errors }).toEqual({ code: 0, errors: undefined });
      };
      const m1 = uid('m1');
      const m2 = uid('m2');
      const codes1 = await claim(m1, 3, 'wechat_mp');
      const codes2 = await claim(m2, 2, '618大促');
      await redeem(m1, codes1[0], 'store_01');
      await redeem(m1, codes1[1], 'store_01');
      await redeem(m2, codes2[0], 'pos');
      expect(
        (await s.post(`/api/crm/points/${crm}/produce/direct`, { event_no: uid('earn'), member_no: m1, event_type: 'order', points: 120 }, adminKey)).body,
      ).toMatchObject({
        code: 0,
      });

      // The dashboard has applied them (through the card-events queue) when the API says so.
      const range = `start_date=${shiftDay(today, -29)}&end_date=${today}`;
      const trend = await s.eventually('the dashboard to apply the claims and redemptions', async () => {
        const res = await s.get(`/api/crm/dashboard/${crm}/card_trend?${range}`, adminKey);
        return res.body.data?.receive_num === 5 && res.body.data?.redeem_num === 3 ? res.body.data : undefined;
      });
      const top = (await s.get(`/api/crm/dashboard/${crm}/card_top?${range}`, adminKey)).body.data;

      await page.getByTestId('nav-dashboard').click();
      expect(await page.getByTestId('dash-start').inputValue()).toBe(shiftDay(today, -29));
      expect(await page.getByTestId('dash-end').inputValue()).toBe(today);
      await page.getByTestId('dash-apply').click();
      await page.getByTestId('top-receive-table').locator(`tr[data-card-id="${cardId}"]`).waitFor();
      const totals: Record<string, number> = {};
      for (const f of ['receive_num', 'receive_member_num', 'redeem_num', 'redeem_member_num', 'present_num', 'present_member_num'])
        totals[f] = Number((await page.getByTestId(`total-${f}`).textContent())!.trim());
      expect(totals).toEqual({ receive_num: 5, receive_member_num: 2, redeem_num: 3, redeem_member_num: 2, present_num: 0, present_member_num: 0 });
      expect(totals).toEqual({
        receive_num: trend.receive_num,
        receive_member_num: trend.receive_member_num,
        redeem_num: trend.redeem_num,
        redeem_member_num: trend.redeem_member_num,
        present_num: trend.present_num,
        present_member_num: trend.present_member_num,
      });
      // The trend chart's table: 30 days, today's row carries the numbers, every other day 0.
      const rows = await tableRows('trend-table', 'data-date');
      expect(Object.keys(rows)).toEqual(trend.tdate);
      expect(Object.keys(rows)).toHaveLength(30);
      expect(rows[today]).toEqual({ receive_num: 5, receive_member_num: 2, redeem_num: 3, redeem_member_num: 2, present_num: 0, present_member_num: 0 });
      for (const [day, cells] of Object.entries(rows))
        if (day !== today) expect({ day, sum: Object.values(cells).reduce((a, b) => a + b, 0) }).toEqual({ day, sum: 0 });
      // Channels and the top tables, exactly as the API and the claims.
      expect(await tableRows('channel-receive-table', 'data-channel')).toEqual({ wechat_mp: { receive_num: 3 }, '618大促': { receive_num: 2 } });
      expect(await tableRows('channel-redeem-table', 'data-channel')).toEqual({ store_01: { redeem_num: 2 }, pos: { redeem_num: 1 } });
      const topReceive = await tableRows('top-receive-table', 'data-card-id');
      expect(topReceive[cardId]).toEqual({ receive_num: 5 });
      expect(Object.keys(topReceive)).toEqual(top.receive_top.map((r: { card_id: string }) => r.card_id));
      expect((await tableRows('top-redeem-table', 'data-card-id'))[cardId]).toEqual({ redeem_num: 3 });
      expect(await page.getByTestId('top-receive-table').locator(`tr[data-card-id="${cardId}"] [data-col="title"]`).textContent()).toBe(title);
      // The chart drew: its canvas is there and not blank.
      expect(await page.getByTestId('trend-chart').locator('canvas').count()).toBeGreaterThan(0);
      await shot('dashboard');

      // The member lookup: m1's codes by status, and the points.
      await page.getByTestId('nav-member').click();
      await page.getByTestId('member-no').fill(m1);
      await page.getByTestId('member-search').click();
      await page.getByTestId('member-codes').locator('tbody tr[data-code]').first().waitFor();
      const codeRows = await page
        .getByTestId('member-codes')
        .locator('tbody tr[data-code]')
        .evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-code'), tr.getAttribute('data-status')]));
      expect(codeRows.map(([c]) => c).sort()).toEqual([...codes1].sort());
      const statusOf = Object.fromEntries(codeRows);
      expect(statusOf[codes1[0]]).toBe(statusOf[codes1[1]]);
      expect(statusOf[codes1[2]]).not.toBe(statusOf[codes1[0]]);
      expect((await page.getByTestId('member-points-total').textContent())!.replace(/[^\d]/g, '')).toBe('120');
      await page.getByTestId('member-history').locator('tbody tr').first().waitFor();
      await shot('member');
    });
  });

  /** A table's rows keyed by the row attribute, each the row's numeric cells by data-col. */
  async function tableRows(testId: string, key: string): Promise<Record<string, Record<string, number>>> {
    return page
      .getByTestId(testId)
      .locator(`tbody tr[${key}]`)
      .evaluateAll(
        (trs, k) =>
          Object.fromEntries(
            trs.map((tr) => [
              tr.getAttribute(k)!,
              Object.fromEntries(
                [...tr.querySelectorAll('[data-col]')]
                  .filter((td) => !['title', 'card_id'].includes(td.getAttribute('data-col')!))
                  .map((td) => [td.getAttribute('data-col')!, Number(td.textContent.trim())]),
              ),
            ]),
          ),
        key,
      );
  }

  /** Fills the create form's fields by API name (inputs and selects alike). */
  async function fillCardForm(fields: Record<string, string>): Promise<void> {
    for (const [name, value] of Object.entries(fields)) {
      const el = page.getByTestId(`field-${name}`);
      if ((await el.evaluate((e) => e.tagName)) === 'SELECT') await el.selectOption(value);
      else await el.fill(value);
    }
  }
});

/** YYYY-MM-DD plus `days`. */
function shiftDay(day: string, days: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}
