import { readFileSync } from 'node:fs';
import { lastValueFrom } from 'rxjs';
import { CardPattern, newCardId, Service } from '@app/domain';
import { RedisStreamsClient } from '@app/platform';
import { AppProcess, cardBody, Suite } from './support/suite';

/**
 * The Redis-streams transport between the gateway and card-service: replicas share the
 * requests, a request held by a replica that dies is done by another, and every request
 * has a deadline.
 */
describe('transport between the gateway and the services', () => {
  let s: Suite;
  let second: AppProcess;
  const crm = 'crm_transport';
  const base = `/api/crm/card/${crm}`;

  beforeAll(async () => {
    s = await Suite.start({
      name: 'transport',
      services: ['card-service'],
      env: { ROLE: 'api', RPC_TIMEOUT_MS: '6000', RPC_CLAIM_IDLE_MS: '1500', RPC_CONCURRENCY: '16' },
    });
    second = s.spawn('card-service');
    await s.waitForInstances('card-service', 2);
  });
  afterAll(() => s?.stop());

  /** Sends `count` card creations, `concurrency` at a time; calls `onAnswer` after each. */
  async function createMany(prefix: string, count: number, concurrency: number, onAnswer: (done: number) => void = () => undefined) {
    const answers: Array<{ status: number; title: string; card_id?: string; code: number }> = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < count) {
          const title = `${prefix}-${next++}`;
          const res = await s.post(`${base}/create`, cardBody({ title }));
          answers.push({ status: res.status, title, card_id: res.body.data?.card_id, code: res.body.code });
          onAnswer(answers.length);
        }
      }),
    );
    return answers;
  }

  async function processedBy(): Promise<Map<string, number>> {
    const all = await s.redis.hgetall('loyalty:instances:card');
    return new Map(
      Object.values(all)
        .map((raw) => JSON.parse(raw))
        .map((i) => [i.instance, i.processed]),
    );
  }

  /** Waits for both replicas to report their counts after `since` (they beat every 2 s). */
  async function countsAfter(since: number): Promise<Map<string, number>> {
    return s.eventually('fresh instance counts', async () => {
      const all = Object.values(await s.redis.hgetall('loyalty:instances:card')).map((raw) => JSON.parse(raw));
      return all.length === 2 && all.every((i) => i.last_seen > since) ? processedBy() : undefined;
    });
  }

  it('splits requests between two replicas and processes each exactly once', async () => {
    const before = await countsAfter(Date.now());
    const answers = await createMany('split', 400, 40);
    const after = await countsAfter(Date.now());

    expect(answers.filter((a) => a.status === 200).length).toBe(400);
    const rows = await s.sql(`SELECT title FROM card.card_info WHERE crm_id = $1 AND title LIKE 'split-%'`, [crm]);
    expect(rows.length).toBe(400);
    expect(new Set(rows.map((r) => r.title)).size).toBe(400);

    const deltas = [...after].map(([id, n]) => n - (before.get(id) ?? 0));
    expect(deltas.reduce((a, b) => a + b, 0)).toBe(400);
    for (const d of deltas) expect(d).toBeGreaterThan(40);
  });

  it('loses no acknowledged request when a replica is killed mid-load', async () => {
    const load = createMany('kill', 300, 30);
    // Kill the second replica at a moment it holds requests it has not answered yet.
    await s.eventually(
      'the second replica to hold requests',
      async () => {
        const pending = (await s.redis.xpending('loyalty:rpc:card', 'card-service', '-', '+', 100)) as Array<[string, string]>;
        return pending.some(([, consumer]) => consumer.includes(`:${second.pid}:`)) ? true : undefined;
      },
      30_000,
      2,
    );
    await second.kill('SIGKILL');
    const answers = await load;
    const survivor = s.processes('card-service')[0];
    expect(readFileSync(survivor.logFile, 'utf8')).toMatch(/took over request .* left by a stopped instance/);
    // Everything was answered: what the dead replica held was taken over by the survivor.
    expect(answers.length).toBe(300);
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    const acknowledged = answers.map((a) => a.card_id!);
    const stored = await s.sql(`SELECT card_id FROM card.card_info WHERE crm_id = $1 AND card_id = ANY($2)`, [crm, acknowledged]);
    expect(stored.length).toBe(300);
    // A create taken over after the dead replica committed it finds its card: none made twice.
    const [{ n }] = await s.sql(`SELECT count(*)::int AS n FROM card.card_info WHERE crm_id = $1 AND title LIKE 'kill-%'`, [crm]);
    expect(n).toBe(300);
  });

  it('answers a request delivered twice with what the first delivery made', async () => {
    const client = new RedisStreamsClient({ service: Service.CARD, redisUrl: s.redisUrl, timeoutMs: 5_000 });
    try {
      const message = { ...cardBody({ title: 'twice', total_quantity: 10 }), crm_id: crm, card_id: newCardId() };
      const first = await lastValueFrom(client.send(CardPattern.CREATE, message));
      const second = await lastValueFrom(client.send(CardPattern.CREATE, message));
      expect(second).toEqual(first);
      const rows = await s.sql(`SELECT card_id, total_quantity::int AS total FROM card.card_info WHERE crm_id = $1 AND title = 'twice'`, [crm]);
      expect(rows).toEqual([{ card_id: message.card_id, total: 10 }]);
    } finally {
      await client.close();
    }
  });

  it('keeps serving after the request stream and its consumer group are lost (Redis restarted empty)', async () => {
    await s.redis.del('loyalty:rpc:card');
    const res = await s.post(`${base}/create`, cardBody({ title: 'after-flush' }));
    expect(res.status).toBe(200);
    expect(res.body.data.title).toBe('after-flush');
  });

  it('validates requests on the service side too, with the same contracts', async () => {
    const client = new RedisStreamsClient({ service: Service.CARD, redisUrl: s.redisUrl, timeoutMs: 5_000 });
    try {
      await client.connect();
      const answer = await lastValueFrom(client.send(CardPattern.CREATE, { ...cardBody({ notice: 5 }), crm_id: crm }));
      expect(answer).toMatchObject({ code: 40001, errors: [{ field: 'notice' }] });
      const noTenant = await lastValueFrom(client.send(CardPattern.DETAIL, { card_id: 'x' }));
      expect(noTenant).toMatchObject({ code: 40001, errors: [{ field: 'crm_id' }] });
    } finally {
      await client.close();
    }
  });

  it('answers 503 at the deadline when no replica runs, and drops the expired request', async () => {
    await Promise.all(s.processes('card-service').map((p) => p.kill('SIGKILL')));
    const started = Date.now();
    const res = await s.post(`${base}/create`, cardBody({ title: 'too-late' }));
    expect(res.status).toBe(503);
    expect(res.body.code).toBe(50301);
    expect(res.body.msg).toMatch(/card service unavailable: no answer within 6000 ms/);
    expect(Date.now() - started).toBeLessThan(9_000);
    const health = await s.get('/health', null);
    expect(health.status).toBe(503);
    expect(health.body.data).toMatchObject({ status: 'degraded', postgres: 'up', redis: 'up', services: { card: { status: 'down' } } });

    // A request that waited in the stream while no replica ran is still done once one starts.
    const waiting = s.post(`${base}/create`, cardBody({ title: 'waited' }));
    s.spawn('card-service');
    const answered = await waiting;
    expect(answered.status).toBe(200);

    const rows = await s.sql(`SELECT title FROM card.card_info WHERE crm_id = $1 AND title IN ('too-late', 'waited')`, [crm]);
    expect(rows.map((r) => r.title)).toEqual(['waited']);
  });
});
