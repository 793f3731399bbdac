import { createServer } from 'node:net';
import { lastValueFrom } from 'rxjs';
import Redis from 'ioredis';
import { RedisStreamsClient } from './redis-streams.client';

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

describe('RedisStreamsClient without Redis', () => {
  it('answers STORE_UNAVAILABLE (Redis carries the requests) and keeps no connection behind', async () => {
    const client = new RedisStreamsClient({ service: 'card', redisUrl: `redis://127.0.0.1:${await closedPort()}`, timeoutMs: 5_000 });
    for (let i = 0; i < 2; i++) {
      await expect(lastValueFrom(client.send('card.ping', {}))).rejects.toMatchObject({
        code: 50302,
        msg: expect.stringMatching(/^store unavailable, retry \(Redis, carrying requests to card: /),
      });
      // Both connections of the failed attempt are closed for good, not left reconnecting.
      const pub = client.unwrap<Redis>();
      await new Promise((resolve) => (pub.status === 'end' ? resolve(null) : pub.once('end', resolve)));
      expect(pub.status).toBe('end');
    }
    await client.close();
  });

  it('refuses at once what would wait behind maxPending requests already waiting for an answer (load is shed, not queued)', async () => {
    // Nobody serves this stream: the first requests wait for their deadline, the one over the bound is refused at once.
    const client = new RedisStreamsClient({ service: `nobody-${process.pid}`, redisUrl: 'redis://127.0.0.1:6379', timeoutMs: 3_000, maxPending: 3 });
    await client.connect();
    const waiting = Array.from({ length: 3 }, () => lastValueFrom(client.send('nobody.ping', {})).catch((e) => e));
    const started = Date.now();
    await expect(lastValueFrom(client.send('nobody.ping', {}))).rejects.toMatchObject({ code: 50301, msg: expect.stringMatching(/3 requests are waiting/) });
    expect(Date.now() - started).toBeLessThan(500);
    await client.close();
    for (const e of await Promise.all(waiting)) expect(e).toMatchObject({ code: 50301 });
  });

  it('refuses emit: what must happen goes through send or a queue', async () => {
    const client = new RedisStreamsClient({ service: 'card', redisUrl: 'redis://127.0.0.1:6379', timeoutMs: 1_000 });
    await expect(lastValueFrom(client.emit('card.created', {}))).rejects.toThrow(/not supported over this transport/);
    await client.close();
  });
});
