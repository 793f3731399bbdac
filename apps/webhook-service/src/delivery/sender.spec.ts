import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { WebhookPayload } from '@app/domain';
import { MAX_RESPONSE_BYTES, send, SendOptions, signedHeaders, urlProblem } from './sender';

const SECRET = `whsec_${Buffer.from('a secret of thirty-two bytes!!!!').toString('base64')}`;
const OTHER = `whsec_${Buffer.from('another secret of 32 bytes......').toString('base64')}`;
const PAYLOAD: WebhookPayload = {
  id: 'points-42',
  type: 'points.earned',
  timestamp: '2026-12-01T02:00:00.000Z',
  crm_id: 'shop_1',
  data: { member_no: 'm1', points: '10.0000' },
};
const OPTS: SendOptions = { timeoutMs: 2_000, allowPrivateHosts: true };

interface Seen {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A local endpoint: records each request, answers with `handler`. */
async function endpoint(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ url: (p?: string) => string; seen: Seen[]; close: () => Promise<void> }> {
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      handler(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (p = '/hook') => `http://127.0.0.1:${port}${p}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('urlProblem', () => {
  it.each([
    ['https://hooks.example.com/x', false, null],
    ['http://hooks.example.com:8080/x?a=1', false, null],
    ['not a url', false, /not a URL/],
    ['ftp://hooks.example.com/x', false, /http or https/],
    ['file:///etc/passwd', true, /http or https/],
    ['https://user:pw@hooks.example.com/x', false, /credentials/],
    ['https://user@hooks.example.com/x', true, /credentials/],
    ['http://127.0.0.1:8080/x', false, /loopback.*127\.0\.0\.1/],
    ['http://[::1]/x', false, /loopback/],
    ['http://10.1.2.3/x', false, /private/],
    ['http://192.168.0.10/x', false, /private/],
    ['http://169.254.169.254/latest/meta-data', false, /link-local/],
    ['http://127.0.0.1:8080/x', true, null],
    ['http://10.1.2.3/x', true, null],
  ])('%s (private hosts allowed: %s)', (url, allowed, problem) => {
    const answer = urlProblem(url, allowed);
    if (problem === null) expect(answer).toBeNull();
    else expect(answer).toMatch(problem);
  });
});

describe('signedHeaders', () => {
  it('signs per Standard Webhooks, one signature per secret, each verifiable with its own', () => {
    const at = new Date();
    const body = JSON.stringify(PAYLOAD);
    const h = signedHeaders([SECRET, OTHER], PAYLOAD.id, at, body);
    expect(h['webhook-id']).toBe('points-42');
    expect(h['webhook-timestamp']).toBe(String(Math.floor(at.getTime() / 1000)));
    expect(h['webhook-signature'].split(' ')).toHaveLength(2);
    expect(() => new Webhook(SECRET).verify(body, h)).not.toThrow();
    expect(() => new Webhook(OTHER).verify(body, h)).not.toThrow();
    const one = signedHeaders([SECRET], PAYLOAD.id, at, body);
    expect(() => new Webhook(OTHER).verify(body, one)).toThrow();
    expect(() => new Webhook(SECRET).verify(`${body} `, one)).toThrow();
  });
});

describe('send', () => {
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    await Promise.all(closers.splice(0).map((c) => c()));
  });
  const serve = async (handler: (req: IncomingMessage, res: ServerResponse) => void) => {
    const ep = await endpoint(handler);
    closers.push(ep.close);
    return ep;
  };

  it('POSTs the payload as JSON with the signature headers; a 2xx is delivered', async () => {
    const ep = await serve((_req, res) => res.writeHead(204).end());
    const at = new Date();
    expect(await send(ep.url(), PAYLOAD, [SECRET], at, OPTS)).toEqual({ status: 204, error: null });
    expect(ep.seen).toHaveLength(1);
    const [got] = ep.seen;
    expect(JSON.parse(got.body)).toEqual(PAYLOAD);
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.headers['webhook-id']).toBe(PAYLOAD.id);
    expect(got.headers['webhook-timestamp']).toBe(String(Math.floor(at.getTime() / 1000)));
    expect(() => new Webhook(SECRET).verify(got.body, got.headers as Record<string, string>)).not.toThrow();
  });

  it('a 500 fails with its status and the start of its body', async () => {
    const ep = await serve((_req, res) => res.writeHead(500).end(`down for maintenance ${'x'.repeat(1_000)}`));
    const res = await send(ep.url(), PAYLOAD, [SECRET], new Date(), OPTS);
    expect(res.status).toBe(500);
    expect(res.error).toMatch(/^HTTP 500: down for maintenance x+$/);
    expect(res.error!.length).toBeLessThan(400);
  });

  it('does not follow a redirect: a 3xx is a failure naming where it pointed', async () => {
    const ep = await serve((req, res) => {
      if (req.url === '/hook') res.writeHead(302, { location: '/elsewhere' }).end();
      else res.writeHead(200).end();
    });
    const res = await send(ep.url(), PAYLOAD, [SECRET], new Date(), OPTS);
    expect(res.status).toBe(302);
    expect(res.error).toMatch(/redirect to \/elsewhere.*not followed/);
    expect(ep.seen.map((s) => s.path)).toEqual(['/hook']);
  });

  it(`reads at most ${MAX_RESPONSE_BYTES / 1024} KiB of an answer, then drops the connection`, async () => {
    let written = 0;
    let closed = false;
    const ep = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const chunk = Buffer.alloc(16 * 1024, 'y');
      res.on('close', () => (closed = true));
      const pump = () => {
        // An endless answer: it stops only when the sender hangs up.
        while (!closed && written < 64 * 1024 * 1024 && res.write(chunk)) written += chunk.length;
        if (!closed && written < 64 * 1024 * 1024) res.once('drain', pump);
      };
      pump();
    });
    const started = Date.now();
    const res = await send(ep.url(), PAYLOAD, [SECRET], new Date(), { ...OPTS, timeoutMs: 5_000 });
    expect(res).toEqual({ status: 200, error: null });
    expect(Date.now() - started).toBeLessThan(2_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(closed).toBe(true);
    expect(written).toBeLessThan(8 * 1024 * 1024);
  });

  it('gives up after the timeout when no answer comes', async () => {
    const ep = await serve(() => undefined);
    const started = Date.now();
    const res = await send(ep.url(), PAYLOAD, [SECRET], new Date(), { ...OPTS, timeoutMs: 300 });
    const took = Date.now() - started;
    expect(res).toEqual({ status: null, error: 'no answer within 300 ms' });
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(1_500);
  });

  it('the timeout covers a body that trickles in', async () => {
    const ep = await serve((_req, res) => {
      res.writeHead(200);
      const t = setInterval(() => res.write('.'), 50);
      res.on('close', () => clearInterval(t));
    });
    const res = await send(ep.url(), PAYLOAD, [SECRET], new Date(), { ...OPTS, timeoutMs: 300 });
    expect(res).toEqual({ status: null, error: 'no answer within 300 ms' });
  });

  it('a refused connection is a failure without a status', async () => {
    const ep = await serve((_req, res) => res.end());
    const url = ep.url();
    await closers.pop()!();
    const res = await send(url, PAYLOAD, [SECRET], new Date(), OPTS);
    expect(res.status).toBeNull();
    expect(res.error).toMatch(/ECONNREFUSED/);
  });

  it('refuses loopback addresses, literal or resolved, unless private hosts are allowed, without sending', async () => {
    const ep = await serve((_req, res) => res.writeHead(200).end());
    const literal = await send(ep.url(), PAYLOAD, [SECRET], new Date(), { ...OPTS, allowPrivateHosts: false });
    expect(literal).toEqual({ status: null, error: expect.stringMatching(/loopback/) });
    const named = await send(ep.url().replace('127.0.0.1', 'localhost'), PAYLOAD, [SECRET], new Date(), { ...OPTS, allowPrivateHosts: false });
    expect(named.status).toBeNull();
    expect(named.error).toMatch(/^refused: .*loopback/);
    expect(ep.seen).toHaveLength(0);
    expect(await send(ep.url(), PAYLOAD, [SECRET], new Date(), OPTS)).toEqual({ status: 200, error: null });
  });
});
