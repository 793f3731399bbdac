import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import Bull from 'bull';
import { CardStockJob, cardStockJobId, CardStockPayload, Queue } from '@app/domain';
import { StockQueue } from '../apps/card-service/src/stock/stock.queue';
import { AppProcess, cardBody, Suite } from './support/suite';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * card-service split by role: one API process and separate `card-stock` workers. A worker
 * killed in the middle of a job leaves a job that another worker finishes with exactly
 * the asked number of codes; two workers on one file import never count a line twice.
 * IMPORT_ALLOW_PRIVATE_HOSTS is not set here: a generate_file in our own network is refused.
 */
describe('card-stock workers', () => {
  let s: Suite;
  const crm = 'crm_workers';
  const base = `/api/crm/card/${crm}`;
  const quantity = 400_000;

  beforeAll(async () => {
    s = await Suite.start({
      name: 'stock_workers',
      services: ['card-service'],
      env: { ROLE: 'api', QUEUE_LOCK_MS: '1500', STOCK_BATCH_SIZE: '5000' },
    });
  });
  afterAll(() => s?.stop());

  const workers: AppProcess[] = [];
  const alive = (p: AppProcess) => p.child.exitCode === null && p.child.signalCode === null;
  function spawnWorker(env: Record<string, string> = {}): AppProcess {
    const w = s.spawn('card-service', { ROLE: 'worker', ...env });
    workers.push(w);
    return w;
  }
  /** A live worker for tests that need one (the first test leaves one running). */
  function ensureWorker(): void {
    if (!workers.some(alive)) spawnWorker();
  }
  async function stockStatus(generateId: string, done: (d: any) => boolean, limitMs = 60_000) {
    return s.eventually(
      `stock job ${generateId}`,
      async () => {
        const res = await s.get(`${base}/stock/status?generate_id=${generateId}`);
        return res.body.data && done(res.body.data) ? res.body.data : undefined;
      },
      limitMs,
      100,
    );
  }

  const generated = async (cardId: string) =>
    (await s.sql(`SELECT count(*)::int AS n FROM card.card_code WHERE crm_id = $1 AND card_id = $2`, [crm, cardId]))[0].n as number;

  it('finishes a job with exactly the asked codes after its worker is killed mid-job', async () => {
    const firstWorker = spawnWorker();
    await s.waitForInstances('card-service', 2);

    const create = await s.post(`${base}/create`, cardBody({ total_quantity: quantity }));
    expect(create.status).toBe(200);
    const cardId = create.body.data.card_id as string;
    const generateId = `init-${cardId}`;

    await s.eventually(
      'the worker to be part-way',
      async () => {
        const n = await generated(cardId);
        return n >= 20_000 ? true : undefined;
      },
      60_000,
      5,
    );
    await firstWorker.kill('SIGKILL');
    const atKill = await generated(cardId);
    expect(atKill).toBeLessThan(quantity);
    expect(atKill % 5000).toBe(0); // only whole batches were committed

    spawnWorker();
    const status = await s.eventually(
      'the job to finish on the new worker',
      async () => {
        const res = await s.get(`${base}/stock/status?generate_id=${generateId}`);
        return res.body.data?.is_generated ? res.body.data : undefined;
      },
      120_000,
      200,
    );
    expect(status).toMatchObject({ status: 'done', generated: quantity, quantity, progress: 1 });

    const [row] = await s.sql(
      `SELECT count(*)::int AS n, count(DISTINCT card_code)::int AS distinct_codes, min(slot)::int AS lo, max(slot)::int AS hi
         FROM card.card_code WHERE crm_id = $1 AND card_id = $2`,
      [crm, cardId],
    );
    expect(row).toEqual({ n: quantity, distinct_codes: quantity, lo: 1, hi: quantity });
    const detail = await s.get(`${base}/detail?card_id=${cardId}`);
    expect(detail.body.data.generate_info).toEqual({ generated: quantity, un_generate: 0, total: quantity });
  });

  describe('generate_file servers', () => {
    let server: Server;
    let fileBase: string;
    const requests: string[] = [];
    // /two.csv: 12,000 codes. The first two readers get 7,000 lines, then wait for releaseTwo().
    const codes = Array.from({ length: 12_000 }, (_, i) => `TWO-${String(i).padStart(6, '0')}`);
    const head = codes.slice(0, 7_000).join('\n') + '\n';
    const tail = codes.slice(7_000).join('\n') + '\n';
    let releaseTwo = () => {};
    const twoReleased = new Promise<void>((r) => (releaseTwo = r));

    beforeAll(async () => {
      server = createServer((req, res) => {
        requests.push(req.url!);
        if (req.url === '/codes.csv') res.end('PRIV-0001\nPRIV-0002\n');
        else if (req.url === '/two.csv') {
          res.writeHead(200).write(head);
          void twoReleased.then(() => res.end(tail));
        } else res.writeHead(404).end();
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      fileBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => {
      releaseTwo();
      server.closeAllConnections();
      return new Promise((r) => server.close(r));
    });

    it.each([
      ['an address', (port: number) => `http://127.0.0.1:${port}/codes.csv`, /refused: 127\.0\.0\.1 is a loopback address$/],
      ['a name', (port: number) => `http://localhost:${port}/codes.csv`, /refused: host localhost resolves to (127\.0\.0\.1|::1), a loopback address$/],
    ])('fails an import from %s in our own network at once, naming the refused address, without connecting', async (_what, url, reason) => {
      ensureWorker();
      requests.length = 0;
      const file = url((server.address() as AddressInfo).port);
      const create = await s.post(`${base}/create`, cardBody({ generate_type: 2, generate_file: file, total_quantity: 2 }));
      expect(create.status).toBe(200);
      const status = await stockStatus(`init-${create.body.data.card_id}`, (d) => d.is_generated, 30_000);
      expect(status).toMatchObject({ status: 'failed', generated: 0 });
      expect(status.error).toMatch(new RegExp(`^generate_file ${file.replace(/[.]/g, '\\.')} `));
      expect(status.error).toMatch(reason);
      expect(requests).toEqual([]);
    });

    it('lets only one of two workers on the same import count its lines (a job taken for stalled while its worker lives)', async () => {
      // Only these two workers run; they may read from 127.0.0.1, and a short lock makes the stall quick.
      for (const w of workers) await w.kill();
      const local = { IMPORT_ALLOW_PRIVATE_HOSTS: 'true', QUEUE_LOCK_MS: '500' };
      const a = spawnWorker(local);
      const create = await s.post(`${base}/create`, cardBody({ generate_type: 2, generate_file: `${fileBase}/two.csv`, total_quantity: 12_000 }));
      expect(create.status).toBe(200);
      const cardId = create.body.data.card_id as string;
      const generateId = `init-${cardId}`;
      const linesDone = async () =>
        (await s.sql(`SELECT lines_done::int AS n FROM card.card_generate WHERE crm_id = $1 AND generate_id = $2`, [crm, generateId]))[0].n as number;
      const readers = () => requests.filter((r) => r === '/two.csv').length;

      // A commits its first batch (5,000 lines), holds 2,000 more and waits for the rest of the file.
      await s.eventually('worker A to commit a batch', async () => ((await linesDone()) === 5_000 ? true : undefined), 60_000, 20);
      await sleep(300);
      // A freezes: its Bull lock runs out, and B takes the job for stalled, starting from line 5,000 too.
      process.kill(a.pid, 'SIGSTOP');
      try {
        spawnWorker(local);
        await s.eventually('worker B to take the job and open the file', async () => (readers() >= 2 ? true : undefined), 60_000, 50);
        await sleep(500);
      } finally {
        process.kill(a.pid, 'SIGCONT');
      }
      // Both now read on from line 5,000 and both try to commit the same lines.
      releaseTwo();

      const status = await stockStatus(generateId, (d) => d.is_generated, 60_000);
      expect(status).toMatchObject({ status: 'done', generated: 12_000, rejected: 0, rejected_reasons: {}, quantity: 12_000 });
      expect(await linesDone()).toBe(12_000);
      const [row] = await s.sql(
        `SELECT count(*)::int AS n, count(DISTINCT card_code)::int AS distinct_codes, max(slot)::int AS hi FROM card.card_code WHERE crm_id = $1 AND card_id = $2`,
        [crm, cardId],
      );
      expect(row).toEqual({ n: 12_000, distinct_codes: 12_000, hi: 12_000 });
    });
  });

  describe('the card-stock queue', () => {
    // A queue of its own (another prefix): the workers above do not see it.
    let bull: Bull.Queue<CardStockPayload>;
    let queue: StockQueue;
    beforeAll(() => {
      bull = new Bull(Queue.CARD_STOCK, s.redisUrl, { prefix: 'e2e-queue' });
      queue = new StockQueue(bull);
    });
    afterAll(() => bull.close());

    /** What a worker does with a job whose last attempt failed. */
    async function failForGood(payload: CardStockPayload): Promise<void> {
      const job = (await bull.getNextJob())!;
      expect(job.id).toBe(cardStockJobId(payload));
      await job.discard();
      await job.moveToFailed({ message: 'gave up' });
    }
    const state = async (payload: CardStockPayload) => (await bull.getJob(cardStockJobId(payload)))?.getState() ?? null;

    it('drops a job that failed for good, so the recovery sweep can queue its unfinished record again', async () => {
      const payload = { crm_id: crm, generate_id: 'queue-1' };
      await queue.enqueue(payload);
      await failForGood(payload);
      expect(await state(payload)).toBeNull();
      await queue.requeue(payload);
      expect(await state(payload)).toBe('waiting');
      await bull.empty();
    });

    it('queues again a record whose job was kept as failed (queued before failed jobs were dropped)', async () => {
      const payload = { crm_id: crm, generate_id: 'queue-2' };
      await bull.add(CardStockJob.GENERATE, payload, { jobId: cardStockJobId(payload), attempts: 8, removeOnFail: 1_000 });
      await failForGood(payload);
      await queue.enqueue(payload);
      expect(await state(payload)).toBe('failed'); // the same jobId: Bull adds nothing
      await queue.requeue(payload);
      expect(await state(payload)).toBe('waiting');
      await bull.empty();
    });
  });
});
