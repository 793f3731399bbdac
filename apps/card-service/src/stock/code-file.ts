import { ClientRequest, get as httpGet, IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { isIP } from 'node:net';
import { addressKindText, guardedLookup, refusedAddressKind } from '@app/platform';

/**
 * The file cannot be imported and trying again will not help: the server said no (HTTP
 * 4xx), sent a redirect, points into our own network, or the file is not a code list.
 */
export class CodeFileRefusedError extends Error {}

export interface CodeFileOptions {
  /** Whether the host may be loopback, private, link-local... (IMPORT_ALLOW_PRIVATE_HOSTS). */
  allowPrivateHosts: boolean;
  /** The server may stay silent this long while we wait for it (connecting, headers, body); total time is not limited. */
  idleTimeoutMs?: number;
  /** A line longer than this (in characters, without its line break) refuses the file. */
  maxLineLength?: number;
}

export const CODE_FILE_IDLE_TIMEOUT_MS = 60_000;
export const CODE_FILE_MAX_LINE_LENGTH = 4_096;

/** Checks the address as written; a name is checked when it resolves (guardedLookup). */
function parseFileUrl(url: string, allowPrivateHosts: boolean): URL {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new CodeFileRefusedError(`generate_file ${url} is not a URL`);
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw new CodeFileRefusedError(`generate_file ${url} is not an http(s) URL`);
  }
  const host = target.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!allowPrivateHosts && isIP(host)) {
    const kind = refusedAddressKind(host);
    if (kind) throw new CodeFileRefusedError(`generate_file ${url} refused: ${host} is ${addressKindText(kind)}`);
  }
  return target;
}

/** Rejects when `work` has not settled after `ms`; the timer runs only while we wait. */
function withinIdle<T>(work: Promise<T>, ms: number, onIdle: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const idle = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onIdle()), ms);
  });
  return Promise.race([work, idle]).finally(() => clearTimeout(timer));
}

function responseOf(req: ClientRequest): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    req.once('response', resolve);
    // Kept for the request's life: a late error (after destroy) must not go unhandled.
    req.on('error', reject);
  });
}

/**
 * Splits text that arrives in pieces into lines (\n, \r\n or \r, as readline does), and
 * refuses a line longer than `maxLength` as soon as it is seen, so nothing is buffered
 * without limit.
 */
export class LineSplitter {
  private rest = '';
  private count = 0;

  constructor(
    private readonly maxLength: number,
    private readonly what = 'the file',
  ) {}

  /** Lines completed by this piece. */
  push(text: string): string[] {
    const s = this.rest + text;
    const out: string[] = [];
    const breaks = /\r\n|\r|\n/g;
    let start = 0;
    for (let m = breaks.exec(s); m; m = breaks.exec(s)) {
      // A \r at the end of the piece may be the first half of \r\n: wait for the next piece.
      if (m[0] === '\r' && m.index === s.length - 1) break;
      out.push(this.line(s.slice(start, m.index)));
      start = m.index + m[0].length;
    }
    this.rest = s.slice(start);
    const pending = this.rest.endsWith('\r') ? this.rest.length - 1 : this.rest.length;
    if (pending > this.maxLength) this.tooLong(this.count + 1);
    return out;
  }

  /** The last line, when the text does not end with a line break. */
  end(): string[] {
    const rest = this.rest;
    this.rest = '';
    if (rest.endsWith('\r')) return [this.line(rest.slice(0, -1))];
    return rest === '' ? [] : [this.line(rest)];
  }

  private line(text: string): string {
    this.count++;
    if (text.length > this.maxLength) this.tooLong(this.count);
    return text;
  }

  private tooLong(lineNo: number): never {
    throw new CodeFileRefusedError(`${this.what}: line ${lineNo} is longer than ${this.maxLength} characters (one code a line is expected)`);
  }
}

/**
 * Reads an import file line by line from an http(s) URL, without holding it in memory.
 * Redirects are not followed, internal addresses are refused unless allowed, and the
 * server may be silent for at most `idleTimeoutMs` at a time however long the file takes.
 */
export async function* linesFromUrl(url: string, opts: CodeFileOptions): AsyncGenerator<string> {
  const idleMs = opts.idleTimeoutMs ?? CODE_FILE_IDLE_TIMEOUT_MS;
  const target = parseFileUrl(url, opts.allowPrivateHosts);
  const get = target.protocol === 'https:' ? httpsGet : httpGet;
  const req = get(target, {
    agent: false,
    headers: { 'accept-encoding': 'identity' },
    ...(opts.allowPrivateHosts ? {} : { lookup: guardedLookup((msg) => new CodeFileRefusedError(msg)) }),
  });
  const silent = (what: string) => () => new Error(`generate_file ${url} sent nothing for ${idleMs} ms ${what}`);
  try {
    let res: IncomingMessage;
    try {
      res = await withinIdle(responseOf(req), idleMs, silent('before answering'));
    } catch (err) {
      if (err instanceof CodeFileRefusedError) throw new CodeFileRefusedError(`generate_file ${url} refused: ${err.message}`);
      throw err;
    }
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400) {
      const to = res.headers.location ? ` to ${res.headers.location.slice(0, 200)}` : '';
      throw new CodeFileRefusedError(`generate_file ${url} answered HTTP ${status} (a redirect${to}); redirects are not followed, give the file's own address`);
    }
    if (status >= 400 && status < 500) throw new CodeFileRefusedError(`generate_file ${url} answered HTTP ${status}`);
    if (status < 200 || status >= 300) throw new Error(`generate_file ${url} answered HTTP ${status}`);
    res.setEncoding('utf8');
    const lines = new LineSplitter(opts.maxLineLength ?? CODE_FILE_MAX_LINE_LENGTH, `generate_file ${url}`);
    const chunks: AsyncIterator<string> = res[Symbol.asyncIterator]();
    for (;;) {
      const next = await withinIdle(chunks.next(), idleMs, silent('while sending the file'));
      if (next.done) break;
      yield* lines.push(next.value);
    }
    yield* lines.end();
  } finally {
    // Also when the reader stops early: close the connection.
    req.destroy();
  }
}
