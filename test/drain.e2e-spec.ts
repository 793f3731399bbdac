import { readFileSync } from 'node:fs';
import { AppProcess, cardBody, freePort, Suite } from './support/suite';

/**
 * SIGTERM drains (DRAIN_TIMEOUT_MS): a service replica stops reading requests, answers the
 * ones it took and exits, while the others serve what it never read; a gateway closes its
 * listener, answers its requests in hand, refuses what still arrives with 503 50301 and
 * `Connection: close`, and exits. Real HTTP under concurrent load; nothing fails. The same
 * count of requests in hand refuses an overload at once (HTTP_MAX_IN_FLIGHT).
 */
describe('SIGTERM drains every process', () => {
  let s: Suite;
  const crm = 'crm_drain';

  beforeAll(async () => {
    s = await Suite.start({
      name: 'drain',
      services: ['card-service', 'points-service'],
      env: { RPC_TIMEOUT_MS: '8000', RPC_CLAIM_IDLE_MS: '1500', RPC_CONCURRENCY: '16', DRAIN_TIMEOUT_MS: '8000', ACCESS_LOG: 'false' },
    });
  });
  afterAll(() => s?.stop());

  /** Runs `count` calls, `concurrency` at a time; `stopAt` is called once `at` of them are answered. */
  async function load<T>(count: number, concurrency: number, call: (i: number) => Promise<T>, at: number, stopAt: () => void): Promise<T[]> {
    const answers: T[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < count) {
          answers.push(await call(next++));
          if (answers.length === at) stopAt();
        }
      }),
    );
    return answers;
  }

  it('a SIGTERMed card-service replica answers what it took; the other serves the rest; no request fails', async () => {
    const second = s.spawn('card-service', { ROLE: 'api' });
    await s.waitForInstances('card-service', 2);
    let exited: Promise<void> | undefined;
    const answers = await load(
      400,
      40,
      async (i) => {
        const res = await s.post(`/api/crm/card/${crm}/create`, cardBody({ title: `drain-${i}` }));
        return { status: res.status, code: res.body.code, card_id: res.body.data?.card_id as string | undefined };
      },
      100,
      () => {
        exited = second.kill('SIGTERM');
      },
    );
    await exited;

    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(second.child.exitCode).toBe(0);
    const log = readFileSync(second.logFile, 'utf8');
    expect(log).toMatch(/SIGTERM: finishing work in hand/);
    expect(log).toMatch(/stopped/);
    expect(log).not.toMatch(/unanswered/);
    // It answered what it held: the survivor took nothing over.
    const survivor = s.processes('card-service')[0];
    expect(readFileSync(survivor.logFile, 'utf8')).not.toMatch(/took over request/);
    const [{ n, distinct }] = await s.sql(
      `SELECT count(*)::int AS n, count(DISTINCT card_id)::int AS distinct FROM card.card_info WHERE crm_id = $1 AND title LIKE 'drain-%'`,
      [crm],
    );
    expect({ n, distinct }).toEqual({ n: 400, distinct: 400 });
  });

  it('a SIGTERMed gateway answers its requests in hand and refuses new ones with 503 and Connection: close', async () => {
    const port = await freePort();
    const gw: AppProcess = s.spawn('gateway', { PORT: String(port) });
    const other = s.url('');
    const draining = `http://127.0.0.1:${port}`;
    await s.eventually('the second gateway to listen', async () => ((await fetch(`${draining}/health`)).status > 0 ? true : undefined));

    let killedAt = Infinity;
    let exited: Promise<void> | undefined;
    const seen = { inHandAnswered: 0, refused503: 0, notConnected: 0, other: [] as string[] };
    /** An earn by event_no, to the draining gateway first; a refused or unconnected try goes to the other with the same event_no, as a client behind a balancer would. */
    const earn = async (i: number) => {
      const body = JSON.stringify({ event_no: `drain-${i}`, member_no: `m${i % 50}`, event_type: 'order', points: 1 });
      for (const base of [draining, other, other]) {
        const sentAt = Date.now();
        try {
          const res = await fetch(`${base}/api/crm/points/${crm}/produce/direct`, {
            method: 'POST',
            headers: { authorization: `Bearer ${s.rootKey}`, 'content-type': 'application/json' },
            body,
          });
          const answer = (await res.json()) as { code: number };
          if (res.status === 200 && answer.code === 0) {
            if (base === draining && sentAt < killedAt && Date.now() > killedAt) seen.inHandAnswered++;
            return 'ok';
          }
          if (res.status === 503 && answer.code === 50301 && base === draining) {
            expect(res.headers.get('connection')).toBe('close');
            seen.refused503++;
            continue;
          }
          seen.other.push(`${res.status} ${JSON.stringify(answer)}`);
          return 'failed';
        } catch {
          seen.notConnected++; // the listener is closed: the client goes to the other gateway
        }
      }
      return 'failed';
    };
    const answers = await load(600, 30, earn, 150, () => {
      killedAt = Date.now();
      exited = gw.kill('SIGTERM');
    });
    await exited;

    expect(seen.other).toEqual([]);
    expect(answers.filter((a) => a !== 'ok')).toEqual([]);
    expect(gw.child.exitCode).toBe(0);
    expect(readFileSync(gw.logFile, 'utf8')).toMatch(/SIGTERM: answering the requests in hand/);
    expect(seen.inHandAnswered).toBeGreaterThan(0);
    const [{ n, distinct }] = await s.sql(
      `SELECT count(*)::int AS n, count(DISTINCT event_no)::int AS distinct FROM points.event WHERE crm_id = $1 AND event_no LIKE 'drain-%'`,
      [crm],
    );
    expect({ n, distinct }).toEqual({ n: 600, distinct: 600 });
  });
  it('refuses what is beyond HTTP_MAX_IN_FLIGHT at once with 503 50301, and serves the rest', async () => {
    const port = await freePort();
    const gw = s.spawn('gateway', { PORT: String(port), HTTP_MAX_IN_FLIGHT: '4' });
    const base = `http://127.0.0.1:${port}`;
    await s.eventually('the capped gateway to listen', async () => ((await fetch(`${base}/health/live`)).status > 0 ? true : undefined));
    const answers = await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        const res = await fetch(`${base}/api/crm/points/${crm}/produce/direct`, {
          method: 'POST',
          headers: { authorization: `Bearer ${s.rootKey}`, 'content-type': 'application/json' },
          body: JSON.stringify({ event_no: `busy-${i}`, member_no: 'busy', event_type: 'order', points: 1 }),
        });
        return { status: res.status, body: (await res.json()) as { code: number; msg: string }, retryAfter: res.headers.get('retry-after') };
      }),
    );
    await gw.kill('SIGTERM');
    const refused = answers.filter((a) => a.status === 503);
    expect(refused.length).toBeGreaterThan(0);
    for (const a of refused) expect(a).toMatchObject({ body: { code: 50301, msg: 'gateway busy, retry' }, retryAfter: '1' });
    expect(answers.filter((a) => a.status !== 503 && a.status !== 200)).toEqual([]);
    const served = answers.filter((a) => a.status === 200).length;
    const [{ n }] = await s.sql(`SELECT count(*)::int AS n FROM points.event WHERE crm_id = $1 AND event_no LIKE 'busy-%'`, [crm]);
    expect(n).toBe(served);
  });
});
