import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { CodeFileRefusedError, LineSplitter, linesFromUrl } from './code-file';

describe('LineSplitter', () => {
  const split = (pieces: string[], max = 100) => {
    const s = new LineSplitter(max);
    return [...pieces.flatMap((p) => s.push(p)), ...s.end()];
  };

  it.each([
    ['\\n, \\r\\n and \\r', ['a\nb\r\nc\rd'], ['a', 'b', 'c', 'd']],
    ['a line across pieces', ['ab', 'c\nd', 'e'], ['abc', 'de']],
    ['\\r\\n split across pieces', ['a\r', '\nb\r', '\n'], ['a', 'b']],
    ['a \\r ending the text', ['a\r'], ['a']],
    ['blank lines', ['\n\na\n'], ['', '', 'a']],
    ['nothing', [''], []],
  ])('splits %s like readline', (_what, pieces, lines) => {
    expect(split(pieces)).toEqual(lines);
  });

  it('refuses a line over the limit, naming it', () => {
    expect(() => split(['1234\n12345\n'], 4)).toThrow(new CodeFileRefusedError('the file: line 2 is longer than 4 characters (one code a line is expected)'));
    expect(split(['1234\r\n1234'], 4)).toEqual(['1234', '1234']);
  });

  it('refuses a long line before its end arrives, holding no more than the limit', () => {
    const s = new LineSplitter(10, 'f');
    expect(s.push('ok\n0123456789')).toEqual(['ok']);
    expect(() => s.push('x')).toThrow(/f: line 2 is longer than 10 characters/);
  });
});

describe('linesFromUrl', () => {
  let server: Server;
  let base: string;
  let requests: string[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const routes = new Map<string, (req: IncomingMessage, res: ServerResponse) => void>();
  const later = (ms: number, f: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      f();
    }, ms);
    timers.add(t);
  };

  beforeAll(async () => {
    server = createServer((req, res) => {
      requests.push(req.url!);
      const route = routes.get(req.url!);
      if (route) route(req, res);
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    routes.set('/codes.csv', (_req, res) => res.end('A-0001\r\nA-0002\r\nA-0003'));
    // 12 lines, one every 100 ms: 1.2 s in all, never silent for 300 ms.
    routes.set('/slow.csv', (_req, res) => {
      res.writeHead(200);
      let i = 0;
      const next = () => {
        res.write(`SLOW-${String(i).padStart(4, '0')}\n`);
        if (++i === 12) res.end();
        else later(100, next);
      };
      next();
    });
    // Two lines, then silent for a second.
    routes.set('/stall.csv', (_req, res) => {
      res.writeHead(200);
      res.write('S-0001\nS-0002\n');
      later(1_000, () => res.end('S-0003\n'));
    });
    routes.set('/no-answer.csv', (_req, res) => later(1_000, () => res.end('late\n')));
    routes.set('/redirect.csv', (_req, res) => res.writeHead(302, { location: '/codes.csv' }).end());
    routes.set('/broken.csv', (_req, res) => res.writeHead(503).end());
    routes.set('/long.csv', (_req, res) => res.end(`L-0001\nL-0002\n${'x'.repeat(50)}\nL-0004\n`));
  });
  beforeEach(() => {
    requests = [];
  });
  afterAll(async () => {
    for (const t of timers) clearTimeout(t);
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  async function read(url: string, opts: Parameters<typeof linesFromUrl>[1] = { allowPrivateHosts: true }) {
    const lines: string[] = [];
    try {
      for await (const line of linesFromUrl(url, opts)) lines.push(line);
      return { lines };
    } catch (error) {
      return { lines, error: error as Error };
    }
  }

  it('reads every line, with or without a final line break', async () => {
    expect(await read(`${base}/codes.csv`)).toEqual({ lines: ['A-0001', 'A-0002', 'A-0003'] });
  });

  it('reads a file to its end however long it takes, as long as bytes keep coming', async () => {
    const started = Date.now();
    const { lines, error } = await read(`${base}/slow.csv`, { allowPrivateHosts: true, idleTimeoutMs: 300 });
    expect(error).toBeUndefined();
    expect(lines).toHaveLength(12);
    expect(lines[11]).toBe('SLOW-0011');
    expect(Date.now() - started).toBeGreaterThan(3 * 300);
  });

  it('gives up when the server is silent for longer than the idle limit, while sending or before answering', async () => {
    const stalled = await read(`${base}/stall.csv`, { allowPrivateHosts: true, idleTimeoutMs: 200 });
    expect(stalled.lines).toEqual(['S-0001', 'S-0002']);
    expect(stalled.error!.message).toBe(`generate_file ${base}/stall.csv sent nothing for 200 ms while sending the file`);
    expect(stalled.error).not.toBeInstanceOf(CodeFileRefusedError); // the queue tries again
    const silent = await read(`${base}/no-answer.csv`, { allowPrivateHosts: true, idleTimeoutMs: 200 });
    expect(silent.error!.message).toMatch(/sent nothing for 200 ms before answering/);
  });

  it('refuses a redirect without following it', async () => {
    const { error } = await read(`${base}/redirect.csv`);
    expect(error).toBeInstanceOf(CodeFileRefusedError);
    expect(error!.message).toBe(
      `generate_file ${base}/redirect.csv answered HTTP 302 (a redirect to /codes.csv); redirects are not followed, give the file's own address`,
    );
    expect(requests).toEqual(['/redirect.csv']);
  });

  it('refuses on 4xx, and leaves 5xx to be tried again', async () => {
    const missing = await read(`${base}/missing.csv`);
    expect(missing.error).toBeInstanceOf(CodeFileRefusedError);
    expect(missing.error!.message).toMatch(/answered HTTP 404$/);
    const broken = await read(`${base}/broken.csv`);
    expect(broken.error).not.toBeInstanceOf(CodeFileRefusedError);
    expect(broken.error!.message).toMatch(/answered HTTP 503$/);
  });

  it('refuses a line over the length limit', async () => {
    const { error } = await read(`${base}/long.csv`, { allowPrivateHosts: true, maxLineLength: 40 });
    expect(error).toBeInstanceOf(CodeFileRefusedError);
    expect(error!.message).toBe(`generate_file ${base}/long.csv: line 3 is longer than 40 characters (one code a line is expected)`);
  });

  describe('without private hosts allowed', () => {
    const strict = { allowPrivateHosts: false };

    it.each([
      ['an IPv4 address', (port: number) => `http://127.0.0.1:${port}/codes.csv`, /refused: 127\.0\.0\.1 is a loopback address$/],
      ['an IPv4-mapped IPv6 address', (port: number) => `http://[::ffff:127.0.0.1]:${port}/codes.csv`, /refused: ::ffff:7f00:1 is a loopback address$/],
      [
        'a name that resolves to one',
        (port: number) => `http://localhost:${port}/codes.csv`,
        /refused: host localhost resolves to (127\.0\.0\.1|::1), a loopback address$/,
      ],
    ])('refuses %s in the internal network before connecting', async (_what, url, message) => {
      const port = (server.address() as AddressInfo).port;
      const { lines, error } = await read(url(port), strict);
      expect(lines).toEqual([]);
      expect(error).toBeInstanceOf(CodeFileRefusedError);
      expect(error!.message).toMatch(message);
      expect(requests).toEqual([]);
    });

    it('refuses what is not an http(s) URL', async () => {
      for (const url of ['file:///etc/passwd', 'not a url']) {
        const { error } = await read(url, strict);
        expect(error).toBeInstanceOf(CodeFileRefusedError);
      }
    });
  });
});
