import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Bull from 'bull';
import { Queue } from '@app/domain';
import { AppProcess, freePort, Suite } from './support/suite';
import { expectError, uid } from './support/expect';

/**
 * The operations surface through real processes: request ids across the hops and in the
 * logs, Prometheus metrics on the gateway and on each service's METRICS_PORT (series that
 * move with traffic), liveness and readiness probes, per-key rate limits shared by two
 * gateway replicas through Redis, and the queue console behind the root key.
 */
describe('operations', () => {
  let s: Suite;
  const crm = 'crm_ops';
  let adminKey: string;
  let clientKey: string;
  let gatewayMetrics: number;
  const servicePorts: Record<string, number> = {};
  let card: AppProcess;
  const CLIENT_LIMIT = 30;

  beforeAll(async () => {
    gatewayMetrics = await freePort();
    s = await Suite.start({
      name: 'operations',
      services: [],
      env: { METRICS_PORT: String(gatewayMetrics), RATE_LIMIT_CLIENT_PER_MIN: String(CLIENT_LIMIT), LOG_LEVEL: 'debug' },
    });
    for (const app of ['card-service', 'points-service', 'dashboard-service', 'webhook-service'] as const) {
      servicePorts[app] = await freePort();
      const proc = s.spawn(app, { METRICS_PORT: String(servicePorts[app]) });
      if (app === 'card-service') card = proc;
    }
    for (const app of ['card-service', 'points-service', 'dashboard-service', 'webhook-service'] as const) await s.waitForInstances(app, 1);
    const issue = async (scope: string) => (await s.post(`/api/crm/keys/${crm}`, { scope })).body.data.key as string;
    adminKey = await issue('admin');
    clientKey = await issue('client');
  });
  afterAll(async () => {
    await s?.stop();
  });

  const raw = (url: string, headers: Record<string, string> = {}) => fetch(url, { headers });
  const opsUrl = (port: number, p: string) => `http://127.0.0.1:${port}${p}`;
  /** The value of one series in a Prometheus text answer (0 when absent). */
  const series = (text: string, name: string, labels: Record<string, string> = {}): number => {
    const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
    let sum = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
      if (want.every((w) => line.includes(w))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return sum;
  };
  const logOf = (proc: AppProcess) => readFileSync(proc.logFile, 'utf8');
  /** Keeps a scrape for `.ci/run`, which checks each with `promtool check metrics`. */
  const METRICS_DIR = process.env.METRICS_DUMP_DIR ?? path.join(tmpdir(), 'loyalty-metrics');
  const keep = (app: string, text: string) => {
    mkdirSync(METRICS_DIR, { recursive: true });
    writeFileSync(path.join(METRICS_DIR, `${app}.prom`), text);
  };

  describe('request ids', () => {
    it('answers every request with x-request-id, keeps a sensible one given, and replaces one that is not', async () => {
      const fresh = await raw(s.url('/health/live'));
      expect(fresh.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      const given = await raw(s.url('/health/live'), { 'x-request-id': 'mini-app.42:abc' });
      expect(given.headers.get('x-request-id')).toBe('mini-app.42:abc');
      const bad = await raw(s.url('/health/live'), { 'x-request-id': 'has spaces\tand tabs' });
      expect(bad.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      const refused = await fetch(s.url(`/api/crm/points/${crm}/summary`), { headers: { 'x-request-id': 'refused-1' } });
      expect(refused.status).toBe(401);
      expect(refused.headers.get('x-request-id')).toBe('refused-1');
    });

    it("carries the id to the service that handled the request: it is in the gateway's access line and the service's log", async () => {
      const rid = uid('rid');
      const res = await fetch(s.url(`/api/crm/points/${crm}/produce/direct`), {
        method: 'POST',
        headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json', 'x-request-id': rid },
        body: JSON.stringify({ event_no: uid('ev'), member_no: 'm-rid', event_type: 'order', points: 5 }),
      });
      expect(res.status).toBe(200);
      const gateway = s.processes('gateway')[0];
      const points = s.processes('points-service')[0];
      await s.eventually('the access line and the service line', async () =>
        logOf(gateway).includes(`[req ${rid}]`) && logOf(points).includes(`[req ${rid}]`) ? true : undefined,
      );
      const access = logOf(gateway)
        .split('\n')
        .find((l) => l.includes(`[req ${rid}]`) && l.includes('[Access]'))!;
      expect(access).toMatch(new RegExp(`POST /api/crm/points/:crm_id/produce/direct 200 [\\d.]+ms crm_id=${crm} key=[0-9a-f]{12}`));
      // Never the key itself, anywhere in any log.
      for (const proc of [gateway, points]) expect(logOf(proc)).not.toContain(adminKey);
      expect(
        logOf(points)
          .split('\n')
          .find((l) => l.includes(`[req ${rid}]`)),
      ).toMatch(/points\.produce.* answered in/);
    });
  });

  describe('metrics', () => {
    it('serves the gateway metrics to the root key only, with the latency of each route template and status moving with traffic', async () => {
      expectError(await s.get('/metrics', adminKey), 403, 40301);
      const before = await (await raw(s.url('/metrics'), { authorization: `Bearer ${s.rootKey}` })).text();
      const labels = { route: '/api/crm/points/:crm_id/summary', status: '200', method: 'GET' };
      for (let i = 0; i < 3; i++) expect((await s.get(`/api/crm/points/${crm}/summary?member_no=m-metrics`, adminKey)).status).toBe(200);
      const res = await raw(s.url('/metrics'), { authorization: `Bearer ${s.rootKey}` });
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      const after = await res.text();
      keep('gateway', after);
      expect(series(after, 'http_request_duration_seconds_count', labels) - series(before, 'http_request_duration_seconds_count', labels)).toBe(3);
      expect(series(after, 'rpc_client_request_duration_seconds_count', { service: 'points', outcome: 'answered' })).toBeGreaterThanOrEqual(3);
      // Process metrics, and the gateway's pool.
      expect(series(after, 'process_resident_memory_bytes')).toBeGreaterThan(0);
      expect(after).toContain('nodejs_eventloop_lag_seconds');
      expect(after).toMatch(/pg_pool_connections\{pool="gateway",state="idle",app="gateway"\}/);
      // The same on the gateway's METRICS_PORT, without a key.
      expect(await (await raw(opsUrl(gatewayMetrics, '/metrics'))).text()).toContain('http_request_duration_seconds_bucket');
    });

    it("serves each service's metrics on its METRICS_PORT: transport, queues, outbox, batch sizes, pool", async () => {
      const cardId = await s.createStockedCard(crm, { total_quantity: 10 });
      for (let i = 0; i < 3; i++) {
        const res = await s.post(
          `/api/crm/card/${crm}/member/receive`,
          { received_id: uid('rcv'), member_no: `m-${i}`, out_str: 'ops', card_info: { [cardId]: 1 } },
          adminKey,
        );
        expect(res.body).toMatchObject({ code: 0 });
      }
      const text = await s.eventually('the outbox to be relayed', async () => {
        const t = await (await raw(opsUrl(servicePorts['card-service'], '/metrics'))).text();
        return series(t, 'outbox_rows_waiting') === 0 && t.includes('outbox_oldest_age_seconds') ? t : undefined;
      });
      expect(series(text, 'claim_batch_size_count')).toBeGreaterThanOrEqual(1);
      expect(series(text, 'claim_batch_size_sum')).toBeGreaterThanOrEqual(3);
      expect(series(text, 'rpc_server_request_duration_seconds_count', { service: 'card' })).toBeGreaterThanOrEqual(4);
      expect(text).toMatch(/rpc_server_in_flight\{service="card",app="card-service"\} 0/);
      expect(text).toMatch(/bull_queue_jobs\{queue="card-stock",state="waiting",app="card-service"\} \d+/);
      expect(text).toMatch(/bull_queue_jobs\{queue="card-events",state="failed",app="card-service"\} \d+/);
      expect(text).toMatch(/bull_queue_oldest_waiting_age_seconds\{queue="card-events",app="card-service"\} [\d.]+/);
      expect(text).toMatch(/pg_pool_connections\{pool="card-service",state="in_use",app="card-service"\} \d+/);
      expect(text).toContain('rpc_server_takeovers_total');
      expect(text).toContain('rpc_server_deadline_drops_total');

      await s.post(`/api/crm/points/${crm}/produce/direct`, { event_no: uid('ev'), member_no: 'm-batch', event_type: 'order', points: 1 }, adminKey);
      const points = await (await raw(opsUrl(servicePorts['points-service'], '/metrics'))).text();
      expect(series(points, 'points_batch_size_count')).toBeGreaterThanOrEqual(1);
      expect(points).toMatch(/bull_queue_jobs\{queue="points-expiry",state="failed",app="points-service"\} \d+/);
      const dashboard = await (await raw(opsUrl(servicePorts['dashboard-service'], '/metrics'))).text();
      const webhook = await (await raw(opsUrl(servicePorts['webhook-service'], '/metrics'))).text();
      expect(webhook).toMatch(/webhook_deliveries_pending\{app="webhook-service"\} \d+/);
      expect(webhook).toContain('webhook_delivery_oldest_due_seconds');
      expect(text).toMatch(/webhook_outbox_rows_waiting\{source="card",app="card-service"\} \d+/);
      expect(points).toMatch(/webhook_outbox_rows_waiting\{source="points",app="points-service"\} \d+/);
      expect(points).toMatch(/points_inbox_rows_waiting\{app="points-service"\} \d+/);
      for (const [app, t] of Object.entries({ 'card-service': text, 'points-service': points, 'dashboard-service': dashboard, 'webhook-service': webhook }))
        keep(app, t);
      expect(dashboard).toMatch(/bull_queue_jobs\{queue="card-events",state="waiting",app="dashboard-service"\} \d+/);
    });

    it('counts a waiting job and its age while nobody takes it', async () => {
      // The stock queue of this suite has workers; pause it (as the console can) so a job stays waiting.
      const queue = new Bull(Queue.CARD_STOCK, s.redisUrl, { prefix: 'loyalty' });
      try {
        await queue.pause();
        // Created a minute ago (Bull's timestamp option), so its age is known without waiting for it.
        await queue.add({ crm_id: crm, generate_id: 'never' }, { jobId: uid('waiting'), timestamp: Date.now() - 60_000 } as Bull.JobOptions); // Bull reads opts.timestamp; its types omit it
        const text = await s.eventually('the waiting job to show', async () => {
          const t = await (await raw(opsUrl(servicePorts['card-service'], '/metrics'))).text();
          return series(t, 'bull_queue_jobs', { queue: 'card-stock', state: 'paused' }) >= 1 ? t : undefined;
        });
        expect(series(text, 'bull_queue_oldest_waiting_age_seconds', { queue: 'card-stock' })).toBeGreaterThanOrEqual(60);
      } finally {
        await queue.obliterate({ force: true });
        await queue.resume();
        await queue.close();
      }
    });
  });

  describe('probes', () => {
    it('says the gateway is live and ready; a dead card-service leaves it ready (points still served) while /health says degraded', async () => {
      expect((await s.get('/health/live', null)).body).toMatchObject({ code: 0, data: { status: 'up' } });
      expect((await s.get('/health/ready', null)).body).toMatchObject({ code: 0, data: { status: 'up', postgres: 'up', redis: 'up' } });
      for (const app of Object.keys(servicePorts)) {
        const live = await raw(opsUrl(servicePorts[app], '/health/live'));
        expect(live.status).toBe(200);
        const ready = await raw(opsUrl(servicePorts[app], '/health/ready'));
        expect({ app, status: ready.status, body: await ready.json() }).toEqual({ app, status: 200, body: { status: 'up', postgres: 'up', redis: 'up' } });
      }

      await card.kill('SIGKILL');
      expect((await s.get('/health/ready', null)).status).toBe(200);
      expect((await s.get(`/api/crm/points/${crm}/summary?member_no=m-probe`, adminKey)).status).toBe(200);
      const full = await s.get('/health', null);
      expect(full.status).toBe(503);
      expect(full.body.data.services.card.status).toBe('down');
      const again = s.spawn('card-service', { METRICS_PORT: String(servicePorts['card-service']) });
      card = again;
      await s.eventually('card-service back', async () => ((await s.get('/health', null)).status === 200 ? true : undefined));
    });
  });

  describe('rate limits', () => {
    it('limits a key per minute across two gateway replicas (shared in Redis), with RateLimit headers and 429 42901; other keys and the root key go on', async () => {
      const second = await freePort();
      s.spawn('gateway', { PORT: String(second), METRICS_PORT: '' });
      await s.eventually('the second gateway', async () => ((await fetch(`http://127.0.0.1:${second}/health/live`)).status === 200 ? true : undefined));
      const key = (await s.post(`/api/crm/keys/${crm}`, { scope: 'client' })).body.data.key as string;
      const hit = (port: number, k = key) =>
        fetch(`http://127.0.0.1:${port}/api/crm/points/${crm}/summary?member_no=m-limit`, { headers: { authorization: `Bearer ${k}` } });
      const answers: Response[] = [];
      for (let i = 0; i < CLIENT_LIMIT; i++) answers.push(await hit(i % 2 ? second : s.port));
      expect(answers.map((a) => a.status)).toEqual(Array(CLIENT_LIMIT).fill(200));
      expect(answers[0].headers.get('ratelimit-limit')).toBe(String(CLIENT_LIMIT));
      expect(answers[CLIENT_LIMIT - 1].headers.get('ratelimit-remaining')).toBe('0');
      expect(Number(answers[0].headers.get('ratelimit-reset'))).toBeGreaterThan(0);

      for (const port of [s.port, second]) {
        const over = await hit(port);
        expect(over.status).toBe(429);
        expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
        expect(over.headers.get('x-request-id')).toBeTruthy();
        expect(await over.json()).toMatchObject({ code: 42901, msg: expect.stringContaining(`${CLIENT_LIMIT} requests a minute`) });
      }
      // Another client key has its own count; the admin key's scope has a higher limit; the root key has none.
      expect((await hit(s.port, clientKey)).status).toBe(200);
      expect((await hit(s.port, adminKey)).status).toBe(200);
      expect((await hit(second, s.rootKey)).status).toBe(200);
      expect((await hit(second, s.rootKey)).headers.get('ratelimit-limit')).toBeNull();
      // Probes are never counted.
      expect((await fetch(`${s.url('/health/live')}`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);
      // The refusals are told apart by their envelope code in the metrics.
      const text = await (await raw(s.url('/metrics'), { authorization: `Bearer ${s.rootKey}` })).text();
      expect(series(text, 'http_errors_total', { code: '42901' })).toBe(1);
    });
  });

  describe('queue console', () => {
    it('opens to the root key (Bearer or Basic), refuses tenant keys (403) and no key (401 with a Basic challenge)', async () => {
      const page = await raw(s.url('/admin/queues'), { authorization: `Bearer ${s.rootKey}` });
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/<html/i);
      const basic = Buffer.from(`ops:${s.rootKey}`).toString('base64');
      expect((await raw(s.url('/admin/queues'), { authorization: `Basic ${basic}` })).status).toBe(200);

      const tenant = await raw(s.url('/admin/queues'), { authorization: `Bearer ${adminKey}` });
      expect(tenant.status).toBe(403);
      expect(await tenant.json()).toMatchObject({ code: 40301 });
      const none = await raw(s.url('/admin/queues/api/queues'));
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Basic/);
    });

    it('lists every queue and a failed job with its error; retry and remove act on it', async () => {
      const queue = new Bull(Queue.CARD_EXPIRY, s.redisUrl, { prefix: 'loyalty' });
      const root = { authorization: `Bearer ${s.rootKey}` };
      try {
        // A job of a kind no worker handles fails at once ("Missing process handler").
        const job = await queue.add('no-such-sweep', { crm_id: crm }, { jobId: uid('bad') });
        await s.eventually('the job to fail', async () => ((await queue.getJob(job.id))?.failedReason ? true : undefined));
        const list = (await (await raw(s.url(`/admin/queues/api/queues?activeQueue=${Queue.CARD_EXPIRY}&status=failed&page=1`), root)).json()) as {
          queues: Array<{ name: string; counts: Record<string, number>; jobs: Array<{ id: string; failedReason: string }> }>;
        };
        expect(list.queues.map((q) => q.name).sort()).toEqual(Object.values(Queue).sort());
        const expiry = list.queues.find((q) => q.name === Queue.CARD_EXPIRY)!;
        expect(expiry.jobs.find((j) => j.id === job.id)?.failedReason).toMatch(/Missing process handler/);

        const retried = await fetch(s.url(`/admin/queues/api/queues/${Queue.CARD_EXPIRY}/${job.id}/retry`), { method: 'PUT', headers: root });
        expect(retried.status).toBe(204);
        await s.eventually('the retried job to fail again', async () => ((await queue.getJob(job.id))?.attemptsMade === 2 ? true : undefined));
        const removed = await fetch(s.url(`/admin/queues/api/queues/${Queue.CARD_EXPIRY}/${job.id}/clean`), { method: 'PUT', headers: root });
        expect(removed.status).toBe(204);
        expect(await queue.getJob(job.id)).toBeNull();
      } finally {
        await queue.close();
      }
    });
  });
});
