import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { cardBody, Suite } from './support/suite';

/** Card templates, stock and the gateway's auth and validation, through real HTTP. */
describe('cards through the gateway', () => {
  let s: Suite;
  const crm = 'crm_cards';
  const base = `/api/crm/card/${crm}`;

  beforeAll(async () => {
    // The generate_file server below is on 127.0.0.1: allowed here, refused by default (stock-worker.e2e-spec.ts).
    s = await Suite.start({ name: 'cards', env: { IMPORT_ALLOW_PRIVATE_HOSTS: 'true' } });
  });
  afterAll(() => s?.stop());

  async function createCard(over: Record<string, unknown> = {}, crmId = crm) {
    const res = await s.post(`/api/crm/card/${crmId}/create`, cardBody(over));
    expect(res.body).toMatchObject({ code: 0 });
    expect(res.status).toBe(200);
    return res.body.data;
  }

  async function stockDone(generateId: string, crmId = crm) {
    return s.eventually(`stock job ${generateId} to finish`, async () => {
      const res = await s.get(`/api/crm/card/${crmId}/stock/status?generate_id=${generateId}`);
      return res.body.data?.is_generated ? res.body.data : undefined;
    });
  }

  describe('auth', () => {
    let adminKey: string;
    let clientKey: string;

    beforeAll(async () => {
      const admin = await s.post(`/api/crm/keys/${crm}`, { scope: 'admin' });
      expect(admin.status).toBe(200);
      expect(admin.body.data).toEqual({ key: expect.stringMatching(/^lk_/), scope: 'admin', crm_id: crm });
      adminKey = admin.body.data.key;
      clientKey = (await s.post(`/api/crm/keys/${crm}`, { scope: 'client' })).body.data.key;
    });

    it('answers 401 without a key or with an unknown one', async () => {
      for (const key of [null, 'lk_not-a-key']) {
        const res = await s.get(`${base}/list`, key);
        expect(res.status).toBe(401);
        expect(res.body.code).toBe(40101);
      }
    });

    it('lets a tenant admin key act on its own tenant only', async () => {
      expect((await s.get(`${base}/list`, adminKey)).status).toBe(200);
      const other = await s.get(`/api/crm/card/someone_else/list`, adminKey);
      expect(other.status).toBe(403);
      expect(other.body.code).toBe(40301);
    });

    it('keeps client keys to the member routes', async () => {
      const res = await s.post(`${base}/create`, cardBody(), clientKey);
      expect(res.status).toBe(403);
      expect(res.body.msg).toMatch(/admin keys only/);
    });

    it('lets only the root key issue keys, stored hashed', async () => {
      const res = await s.post(`/api/crm/keys/${crm}`, { scope: 'admin' }, adminKey);
      expect(res.status).toBe(403);
      const stored = await s.sql(`SELECT key_hash FROM gateway.api_key WHERE crm_id = $1`, [crm]);
      expect(stored.length).toBe(2);
      expect(stored.map((r) => r.key_hash)).not.toContain(adminKey);
      const bad = await s.post(`/api/crm/keys/${crm}`, { scope: 'owner' });
      expect(bad.status).toBe(400);
      expect(bad.body.errors![0].field).toBe('scope');
    });
  });

  describe('validation', () => {
    it.each([
      ['a wrong type', { total_quantity: 'many' }, 'total_quantity'],
      ['a missing required field', { title: undefined }, 'title'],
      ['a notice over 15 characters', { notice: '一二三四五六七八九十一二三四五六' }, 'notice'],
      ['a discount card without a rate in (0,1)', { card_type: 1, discount: 1 }, 'discount'],
      ['a cash voucher without an amount', { card_type: 0, cash_amount: 0 }, 'cash_amount'],
      ['a fixed range that ends before it begins', { begin_time: 200, end_time: 100 }, 'end_time'],
      ['a relative date without day counts', { date_type: 2, start_day_count: null, expire_day_count: null }, 'start_day_count'],
      ['weekdays out of 0-6', { weekdays: '1,7' }, 'weekdays'],
      ['monthdays out of 1-31', { monthdays: '0,5' }, 'monthdays'],
      ['a day window that ends before it starts', { day_begin_time: 7200, day_end_time: 3600 }, 'day_end_time'],
      ['an imported stock without a file', { generate_type: 2, total_quantity: 10 }, 'generate_file'],
      ['a nested field of the wrong type', { extra_info: { bg_color: 5 } }, 'extra_info.bg_color'],
      ['a NUL character in text', { title: 'a\u0000b' }, 'title'],
    ])('refuses %s with 400 naming the field, and creates nothing', async (_what, over, field) => {
      const before = await s.sql(`SELECT count(*)::int AS n FROM card.card_info`);
      const res = await s.post(`${base}/create`, cardBody(over));
      expect(res.status).toBe(400);
      expect(res.body.code).toBe(40001);
      expect(res.body.errors!.map((e) => e.field)).toContain(field);
      expect(res.body.msg).toContain(field);
      const after = await s.sql(`SELECT count(*)::int AS n FROM card.card_info`);
      expect(after[0].n).toBe(before[0].n);
    });

    it('refuses page_size over 100 and non-numeric paging', async () => {
      const res = await s.get(`${base}/list?page_size=101&page_id=abc`);
      expect(res.status).toBe(400);
      expect(res.body.errors!.map((e) => e.field).sort()).toEqual(['page_id', 'page_size']);
    });

    it('refuses a body over 1 MiB with 413 and malformed JSON with 400', async () => {
      const big = await s.post(`${base}/create`, { ...cardBody(), rule: 'x'.repeat(1024 * 1024 + 10) });
      expect(big.status).toBe(413);
      expect(big.body.code).toBe(41301);
      expect(big.body.errors).toEqual([{ field: 'body', message: 'request body is larger than 1 MiB' }]);
      const bad = await s.post(`${base}/create`, '{"title":');
      expect(bad.status).toBe(400);
      expect(bad.body.code).toBe(40001);
      expect(bad.body.errors![0].field).toBe('body');
    });

    it('refuses nesting deeper than any contract takes with 400, not a stack overflow', async () => {
      const deep = `${'['.repeat(50_000)}${']'.repeat(50_000)}`;
      const res = await s.post(`${base}/create`, JSON.stringify(cardBody()).replace(/}$/, `,"deep":${deep}}`));
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual([{ field: 'body', message: 'body is nested deeper than 16 levels' }]);
    });

    it('refuses a NUL character in a query string with 400, not a database error', async () => {
      const res = await s.get(`${base}/detail?card_id=%00`);
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual([{ field: 'card_id', message: 'card_id must not contain the NUL character' }]);
    });

    it('refuses a malformed crm_id in the path', async () => {
      const res = await s.get(`/api/crm/card/${'x'.repeat(40)}/list`);
      expect(res.status).toBe(400);
      expect(res.body.errors![0].field).toBe('crm_id');
    });

    it('answers unknown routes with the envelope', async () => {
      const res = await s.get(`${base}/nothing-here`);
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ code: 40404, msg: 'no such route' });
    });
  });

  describe('templates', () => {
    it('creates a card with every spec field and reads it back', async () => {
      const body = cardBody({ dayend_time: 80000, day_end_time: undefined, get_limit: 2, card_type: 0, cash_amount: 12.5 });
      const created = await createCard(body);
      expect(created.card_id).toMatch(/^[0-9a-f]{32}$/);
      const detail = await s.get(`${base}/detail?card_id=${created.card_id}`);
      expect(detail.body.msg).toBe('获取卡券详情成功');
      expect(detail.body.data).toMatchObject({
        crm_id: crm,
        card_type: 0,
        cash_amount: 12.5,
        day_end_time: 80000,
        dayend_time: 80000,
        get_limit: 2,
        extra_info: body.extra_info,
        weekdays: '0,1,6',
        removed: false,
        generate_info: { generated: 0, un_generate: 0, total: 0 },
        receive_info: { received: 0 },
      });
      expect(detail.body.data.create_time).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    });

    it('lists with filters and paging, newest first, without removed cards', async () => {
      const crmId = 'crm_listing';
      const a = await createCard({ card_type: 2, scene: 'store' }, crmId);
      const b = await createCard({ card_type: 2, scene: 'web' }, crmId);
      const c = await createCard({ card_type: 3, source: 1 }, crmId);
      const page = await s.get(`/api/crm/card/${crmId}/list?page_id=1&page_size=2`);
      expect(page.body.data.total).toBe(3);
      expect(page.body.data.results.map((r: any) => r.card_id)).toEqual([c.card_id, b.card_id]);
      const typed = await s.get(`/api/crm/card/${crmId}/list?card_type=2&scene=store`);
      expect(typed.body.data.results.map((r: any) => r.card_id)).toEqual([a.card_id]);
      expect((await s.get(`/api/crm/card/${crmId}/list?source=1`)).body.data.total).toBe(1);

      const removed = await s.post(`/api/crm/card/${crmId}/remove`, { card_id: b.card_id });
      expect(removed.body).toEqual({ code: 0, msg: '删除卡券成功' });
      expect((await s.get(`/api/crm/card/${crmId}/list`)).body.data.total).toBe(2);
      const detail = await s.get(`/api/crm/card/${crmId}/detail?card_id=${b.card_id}`);
      expect(detail.body.data.removed).toBe(true);
    });

    it('answers 404 for an unknown card, also on another tenant', async () => {
      const mine = await createCard();
      for (const path of [`${base}/detail?card_id=nope`, `/api/crm/card/crm_other/detail?card_id=${mine.card_id}`]) {
        const res = await s.get(path);
        expect(res.status).toBe(404);
        expect(res.body.code).toBe(40402);
      }
    });
  });

  describe('stock', () => {
    it('generates exactly total_quantity unique numeric codes in the background', async () => {
      const card = await createCard({ total_quantity: 25_000 });
      expect(card.generate_info).toEqual({ generated: 0, un_generate: 25_000, total: 25_000 });
      const status = await stockDone(`init-${card.card_id}`);
      expect(status).toMatchObject({ status: 'done', generated: 25_000, rejected: 0, quantity: 25_000, progress: 1 });
      const [row] = await s.sql(
        `SELECT count(*)::int AS n, count(DISTINCT card_code)::int AS distinct_codes, min(slot)::int AS lo, max(slot)::int AS hi,
                bool_and(card_code ~ '^[1-9][0-9]{18}$') AS numeric
           FROM card.card_code WHERE crm_id = $1 AND card_id = $2`,
        [crm, card.card_id],
      );
      expect(row).toEqual({ n: 25_000, distinct_codes: 25_000, lo: 1, hi: 25_000, numeric: true });
      const detail = await s.get(`${base}/detail?card_id=${card.card_id}`);
      expect(detail.body.data.generate_info).toEqual({ generated: 25_000, un_generate: 0, total: 25_000 });
    });

    it('adds stock idempotently by generate_id, also for concurrent duplicates', async () => {
      const card = await createCard();
      const body = { card_id: card.card_id, quantity: 300, generate_id: 'more-1' };
      const answers = await Promise.all(Array.from({ length: 20 }, () => s.post(`${base}/add/stock`, body)));
      for (const a of answers) {
        expect(a.status).toBe(200);
        expect(a.body.data).toEqual(answers[0].body.data);
      }
      expect(answers[0].body.data).toMatchObject({ card_id: card.card_id, quantity: 300, generate_id: 'more-1', crm_id: crm });
      await stockDone('more-1');
      // A repeat after the job finished still gets the original answer; stock/status shows the progress.
      const again = await s.post(`${base}/add/stock`, body);
      expect(again.body.data).toEqual(answers[0].body.data);
      expect(answers[0].body.data).toMatchObject({ is_generated: false, update_time: answers[0].body.data.create_time });
      const status = await s.get(`${base}/stock/status?generate_id=more-1`);
      expect(status.body.data).toMatchObject({ is_generated: true, generated: 300, status: 'done' });
      const conflict = await s.post(`${base}/add/stock`, { ...body, quantity: 301 });
      expect(conflict.status).toBe(409);
      expect(conflict.body.code).toBe(40901);
      const [{ n }] = await s.sql(`SELECT count(*)::int AS n FROM card.card_code WHERE crm_id = $1 AND card_id = $2`, [crm, card.card_id]);
      expect(n).toBe(300);
      const detail = await s.get(`${base}/detail?card_id=${card.card_id}`);
      expect(detail.body.data.total_quantity).toBe(300);
    });

    it('refuses stock for unknown or removed cards and for imported-code cards', async () => {
      const unknown = await s.post(`${base}/add/stock`, { card_id: 'nope', quantity: 1, generate_id: 'x1' });
      expect(unknown.status).toBe(404);
      const card = await createCard();
      await s.post(`${base}/remove`, { card_id: card.card_id });
      const removed = await s.post(`${base}/add/stock`, { card_id: card.card_id, quantity: 1, generate_id: 'x2' });
      expect(removed.status).toBe(409);
      expect(removed.body.code).toBe(40902);
      const imported = await createCard({ generate_type: 2 });
      const wrong = await s.post(`${base}/add/stock`, { card_id: imported.card_id, quantity: 1, generate_id: 'x3' });
      expect(wrong.status).toBe(422);
      expect(wrong.body.msg).toMatch(/import_codes/);
      const status = await s.get(`${base}/stock/status?generate_id=x1`);
      expect(status.status).toBe(404);
    });

    it('imports codes, skipping and counting malformed and repeated ones', async () => {
      const card = await createCard({ generate_type: 2 });
      const other = await createCard({ generate_type: 2 });
      await s.post(`${base}/import_codes`, { card_id: other.card_id, generate_id: 'imp-other', codes: ['TAKEN-0001'] });
      const codes = ['GOOD-0001', 'GOOD-0002', 'GOOD-0001', 'bad code', 'x', 'TAKEN-0001', 'GOOD-0003'];
      const res = await s.post(`${base}/import_codes`, { card_id: card.card_id, generate_id: 'imp-1', codes });
      expect(res.status).toBe(200);
      expect(res.body.data).toMatchObject({
        status: 'done',
        is_generated: true,
        quantity: 7,
        generated: 3,
        rejected: 4,
        rejected_reasons: { duplicate_in_import: 1, invalid_format: 2, already_exists: 1 },
      });
      const same = await s.post(`${base}/import_codes`, { card_id: card.card_id, generate_id: 'imp-1', codes });
      expect(same.body.data).toEqual(res.body.data);
      const conflict = await s.post(`${base}/import_codes`, { card_id: card.card_id, generate_id: 'imp-1', codes: ['GOOD-0009'] });
      expect(conflict.status).toBe(409);
      const again = await s.post(`${base}/import_codes`, { card_id: card.card_id, generate_id: 'imp-2', codes: ['GOOD-0002', 'GOOD-0004'] });
      expect(again.body.data).toMatchObject({ generated: 1, rejected: 1, rejected_reasons: { already_exists: 1 } });
      const detail = await s.get(`${base}/detail?card_id=${card.card_id}`);
      expect(detail.body.data.generate_info).toEqual({ generated: 4, un_generate: 0, total: 4 });
      const rows = await s.sql(`SELECT card_code FROM card.card_code WHERE crm_id = $1 AND card_id = $2 ORDER BY slot`, [crm, card.card_id]);
      expect(rows.map((r) => r.card_code)).toEqual(['GOOD-0001', 'GOOD-0002', 'GOOD-0003', 'GOOD-0004']);
    });

    it('answers a repeated add/stock or import_codes as the first time, even after the card was removed', async () => {
      const card = await createCard();
      const add = { card_id: card.card_id, quantity: 5, generate_id: 'rm-add-1' };
      const first = await s.post(`${base}/add/stock`, add);
      expect(first.status).toBe(200);
      const imported = await createCard({ generate_type: 2 });
      const imp = { card_id: imported.card_id, generate_id: 'rm-imp-1', codes: ['RM-0001', 'RM-0002'] };
      const firstImport = await s.post(`${base}/import_codes`, imp);
      expect(firstImport.body.data).toMatchObject({ status: 'done', generated: 2 });
      for (const c of [card, imported]) expect((await s.post(`${base}/remove`, { card_id: c.card_id })).status).toBe(200);

      const again = await s.post(`${base}/add/stock`, add);
      expect(again.status).toBe(200);
      expect(again.body).toEqual(first.body);
      const otherPayload = await s.post(`${base}/add/stock`, { ...add, quantity: 6 });
      expect(otherPayload.status).toBe(409);
      expect(otherPayload.body.code).toBe(40901);
      const fresh = await s.post(`${base}/add/stock`, { ...add, generate_id: 'rm-add-2' });
      expect(fresh.status).toBe(409);
      expect(fresh.body.code).toBe(40902);

      const importAgain = await s.post(`${base}/import_codes`, imp);
      expect(importAgain.status).toBe(200);
      expect(importAgain.body.data).toEqual(firstImport.body.data);
      const importOther = await s.post(`${base}/import_codes`, { ...imp, codes: ['RM-0003'] });
      expect(importOther.status).toBe(409);
      expect(importOther.body.code).toBe(40901);
      const importFresh = await s.post(`${base}/import_codes`, { ...imp, generate_id: 'rm-imp-2' });
      expect(importFresh.body.code).toBe(40902);
    });

    it('refuses more than 10,000 codes in one call', async () => {
      const card = await createCard({ generate_type: 2 });
      const codes = Array.from({ length: 10_001 }, (_, i) => `C-${i}-abcd`);
      const res = await s.post(`${base}/import_codes`, { card_id: card.card_id, generate_id: 'too-many', codes });
      expect(res.status).toBe(400);
      expect(res.body.errors![0].field).toBe('codes');
    });

    describe('from a generate_file', () => {
      let server: Server;
      let fileUrl: string;
      const lines = ['code,batch', ...Array.from({ length: 12_000 }, (_, i) => `"FILE-${String(i).padStart(6, '0')}",b1`), 'FILE-000001', 'no good', ''];
      /** /held.csv sends its first line, then waits for release(). */
      let heldRequests = 0;
      let release = () => {};
      const released = new Promise<void>((r) => (release = r));

      beforeAll(async () => {
        server = createServer((req, res) => {
          if (req.url === '/codes.csv') res.end(lines.join('\r\n'));
          else if (req.url === '/redirect.csv') res.writeHead(301, { location: '/codes.csv' }).end();
          else if (req.url === '/long.csv') res.end(`LONG-0001\n${'7'.repeat(5_000)}\nLONG-0003\n`);
          else if (req.url === '/held.csv') {
            heldRequests++;
            res.writeHead(200).write('HELD-0001\n');
            void released.then(() => res.end('HELD-0002\nHELD-0003\n'));
          } else res.writeHead(404).end();
        });
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
        fileUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/codes.csv`;
      });
      afterAll(() => {
        release();
        server.closeAllConnections();
        return new Promise((r) => server.close(r));
      });

      async function failedStatus(generateId: string, limitMs = 120_000) {
        return s.eventually(
          `stock job ${generateId} to fail`,
          async () => {
            const res = await s.get(`${base}/stock/status?generate_id=${generateId}`);
            return res.body.data?.status === 'failed' ? res.body.data : undefined;
          },
          limitMs,
          100,
        );
      }

      it('reads the file, caps at total_quantity and explains every rejected line', async () => {
        const card = await createCard({ generate_type: 2, generate_file: fileUrl, total_quantity: 11_000 });
        const status = await stockDone(`init-${card.card_id}`);
        expect(status).toMatchObject({ status: 'done', generated: 11_000 });
        // "code" header is a well-formed code; then 12,000 codes, a repeat and a malformed line.
        expect(status.rejected_reasons).toEqual({ over_quantity: 1_001, duplicate_in_import: 1, invalid_format: 1 });
        const detail = await s.get(`${base}/detail?card_id=${card.card_id}`);
        expect(detail.body.data.generate_info).toEqual({ generated: 11_000, un_generate: 0, total: 11_000 });
      });

      it('marks the job failed with the reason when the file cannot be read', async () => {
        const card = await createCard({ generate_type: 2, generate_file: fileUrl.replace('codes.csv', 'missing.csv'), total_quantity: 5 });
        const status = await s.eventually(
          'the import to fail',
          async () => {
            const res = await s.get(`${base}/stock/status?generate_id=init-${card.card_id}`);
            return res.body.data?.status === 'failed' ? res.body.data : undefined;
          },
          120_000,
          250,
        );
        expect(status.error).toMatch(/HTTP 404/);
        const detail = await s.get(`${base}/detail?card_id=${card.card_id}`);
        expect(detail.body.data.generate_info).toEqual({ generated: 0, un_generate: 0, total: 0 });
      });

      it('fails the job at once on a redirect, without following it', async () => {
        const url = fileUrl.replace('codes.csv', 'redirect.csv');
        const card = await createCard({ generate_type: 2, generate_file: url, total_quantity: 5 });
        const status = await failedStatus(`init-${card.card_id}`, 15_000);
        expect(status.error).toBe(`generate_file ${url} answered HTTP 301 (a redirect to /codes.csv); redirects are not followed, give the file's own address`);
        expect(status.generated).toBe(0);
      });

      it('fails the job at once on a line over 4,096 characters', async () => {
        const url = fileUrl.replace('codes.csv', 'long.csv');
        const card = await createCard({ generate_type: 2, generate_file: url, total_quantity: 5 });
        const status = await failedStatus(`init-${card.card_id}`, 15_000);
        expect(status.error).toBe(`generate_file ${url}: line 2 is longer than 4096 characters (one code a line is expected)`);
        const detail = await s.get(`${base}/detail?card_id=${card.card_id}`);
        expect(detail.body.data.generate_info).toEqual({ generated: 0, un_generate: 0, total: 0 });
      });

      it('stops an import whose card is removed while the file is read, failing the job with the reason', async () => {
        const card = await createCard({ generate_type: 2, generate_file: fileUrl.replace('codes.csv', 'held.csv'), total_quantity: 3 });
        await s.eventually('the worker to read the file', async () => (heldRequests > 0 ? true : undefined), 30_000, 50);
        expect((await s.post(`${base}/remove`, { card_id: card.card_id })).status).toBe(200);
        release();
        const status = await failedStatus(`init-${card.card_id}`, 30_000);
        expect(status).toMatchObject({ generated: 0, error: `card ${card.card_id} was removed` });
        const [{ n }] = await s.sql(`SELECT count(*)::int AS n FROM card.card_code WHERE crm_id = $1 AND card_id = $2`, [crm, card.card_id]);
        expect(n).toBe(0);
      });
    });
  });

  describe('health and docs', () => {
    it('reports PostgreSQL, Redis and every service', async () => {
      const res = await s.get('/health', null);
      expect(res.status).toBe(200);
      expect(res.body.data).toMatchObject({
        status: 'up',
        postgres: 'up',
        redis: 'up',
        services: {
          card: { status: 'up', database: 'up' },
          points: { status: 'up', database: 'up' },
          dashboard: { status: 'up', database: 'up' },
        },
      });
      expect(res.body.data.services.card.instances.length).toBe(1);
    });

    it('serves the OpenAPI document with every card route and its examples', async () => {
      const res = await fetch(s.url('/docs-json'));
      const doc = await res.json();
      for (const p of ['create', 'detail', 'list', 'remove', 'add/stock', 'stock/status', 'import_codes']) {
        const op = Object.values(doc.paths[`/api/crm/card/{crm_id}/${p}`])[0] as any;
        expect(op.responses['200'].content['application/json'].schema.example.code).toBe(0);
      }
      expect(doc.components.schemas.CreateCardDto.properties.card_type.example).toBe(1);
      // The dashboard under both spellings, with its query parameters and an example answer.
      for (const base of ['dashbord', 'dashboard']) {
        for (const route of ['card_trend', 'card_channel', 'card_top']) {
          const op = doc.paths[`/api/crm/${base}/{crm_id}/${route}`]?.get;
          expect([route, op?.responses['200'].content['application/json'].schema.example.code]).toEqual([route, 0]);
          expect(op.parameters.map((x: { name: string }) => x.name)).toEqual(expect.arrayContaining(['crm_id', 'start_date', 'end_date']));
        }
      }
      expect(doc.paths['/api/crm/points/{crm_id}/produce/direct']?.post).toBeDefined();
      expect((await fetch(s.url('/docs'))).status).toBe(200);
    });
  });
});
