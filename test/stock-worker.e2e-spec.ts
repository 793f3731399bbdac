import { cardBody, Suite } from './support/suite';

/**
 * card-service split by role: one API process and separate `card-stock` workers. A worker
 * killed in the middle of a job leaves a job that another worker finishes with exactly
 * the asked number of codes.
 */
describe('card-stock workers', () => {
  let s: Suite;
  const crm = 'crm_workers';
  const base = `/api/crm/card/${crm}`;
  const quantity = 400_000;

  beforeAll(async () => {
    s = await Suite.start({
      name: 'stock_workers',
      redisDb: 3,
      services: ['card-service'],
      env: { ROLE: 'api', QUEUE_LOCK_MS: '1500', STOCK_BATCH_SIZE: '5000' },
    });
  });
  afterAll(() => s?.stop());

  const generated = async (cardId: string) =>
    (await s.sql(`SELECT count(*)::int AS n FROM card.card_code WHERE crm_id = $1 AND card_id = $2`, [crm, cardId]))[0].n as number;

  it('finishes a job with exactly the asked codes after its worker is killed mid-job', async () => {
    const firstWorker = s.spawn('card-service', { ROLE: 'worker' });
    await s.waitForInstances('card-service', 2);

    const create = await s.post(`${base}/create`, cardBody({ total_quantity: quantity }));
    expect(create.status).toBe(200);
    const cardId = create.body.data.card_id as string;
    const generateId = `init-${cardId}`;

    await s.eventually('the worker to be part-way', async () => {
      const n = await generated(cardId);
      return n >= 20_000 ? true : undefined;
    }, 60_000, 5);
    await firstWorker.kill('SIGKILL');
    const atKill = await generated(cardId);
    expect(atKill).toBeLessThan(quantity);
    expect(atKill % 5000).toBe(0); // only whole batches were committed

    s.spawn('card-service', { ROLE: 'worker' });
    const status = await s.eventually('the job to finish on the new worker', async () => {
      const res = await s.get(`${base}/stock/status?generate_id=${generateId}`);
      return res.body.data?.is_generated ? res.body.data : undefined;
    }, 120_000, 200);
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
});
