import { request as httpRequest, RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { WebhookPayload } from '@app/domain';
import { addressKindText, guardedLookup, refusedAddressKind } from '@app/platform';

/** The endpoint's answer is read up to this many bytes, then the connection is dropped. */
export const MAX_RESPONSE_BYTES = 64 * 1024;
/** How much of a failed answer's body is kept as its last_error. */
const ERROR_TEXT_CHARS = 300;

export interface SendOptions {
  timeoutMs: number;
  /** Loopback, private, link-local... addresses allowed (WEBHOOK_ALLOW_PRIVATE_HOSTS). */
  allowPrivateHosts: boolean;
}

export interface SendResult {
  /** HTTP status; null when no answer came (refused, timed out, a forbidden address). */
  status: number | null;
  /** Why it failed, for the delivery's last_error; null when delivered. */
  error: string | null;
}

class RefusedAddress extends Error {}

/**
 * A URL the endpoint may have: http(s), no credentials, not a literal internal address
 * (names are checked when they resolve, in the socket's own lookup). Null when fine, else why not.
 */
export function urlProblem(url: string, allowPrivateHosts: boolean): string | null {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return 'url is not a URL';
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') return 'url must be an http or https URL';
  if (target.username || target.password) return 'url must not carry credentials';
  const host = target.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!allowPrivateHosts && isIP(host)) {
    const kind = refusedAddressKind(host);
    if (kind) return `url must not point at ${addressKindText(kind)} (${host})`;
  }
  return null;
}

/** The Standard Webhooks headers of one attempt: the event id, the time, a signature per secret. */
export function signedHeaders(secrets: string[], id: string, at: Date, body: string): Record<string, string> {
  const signatures = secrets.map((s) => new Webhook(s).sign(id, at, body));
  return { 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': signatures.join(' ') };
}

/**
 * POSTs one event, signed. No redirects (a 3xx is a failure), at most `timeoutMs` in all,
 * at most MAX_RESPONSE_BYTES of the answer read; never throws.
 */
export function send(url: string, payload: WebhookPayload, secrets: string[], at: Date, opts: SendOptions): Promise<SendResult> {
  const problem = urlProblem(url, opts.allowPrivateHosts);
  if (problem) return Promise.resolve({ status: null, error: problem });
  const body = JSON.stringify(payload);
  const target = new URL(url);
  const options: RequestOptions = {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      'user-agent': 'loyalty-suite-webhooks/1',
      ...signedHeaders(secrets, payload.id, at, body),
    },
    ...(opts.allowPrivateHosts ? {} : { lookup: guardedLookup((m) => new RefusedAddress(m)) }),
  };
  return new Promise<SendResult>((resolve) => {
    let settled = false;
    /** `cut`: drop the connection (a timeout, an answer too long, an error); an answer read to its end leaves it to the agent's keep-alive. */
    const finish = (r: SendResult, cut = true) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (cut) req.destroy();
      resolve(r);
    };
    const req = (target.protocol === 'https:' ? httpsRequest : httpRequest)(target, options, (res) => {
      const status = res.statusCode ?? 0;
      const chunks: Buffer[] = [];
      let size = 0;
      const done = (cut: boolean) => {
        const ok = status >= 200 && status < 300;
        const text = Buffer.concat(chunks).toString('utf8').slice(0, ERROR_TEXT_CHARS);
        const redirect = status >= 300 && status < 400 ? ` (a redirect to ${res.headers.location ?? '?'}; redirects are not followed)` : '';
        finish({ status, error: ok ? null : `HTTP ${status}${redirect}${text ? `: ${text}` : ''}` }, cut);
      };
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_RESPONSE_BYTES) chunks.push(chunk);
        else done(true); // enough read: the status decides
      });
      res.on('end', () => done(false));
      res.on('error', () => done(true));
    });
    const timer = setTimeout(() => finish({ status: null, error: `no answer within ${opts.timeoutMs} ms` }), opts.timeoutMs);
    req.on('error', (err) => finish({ status: null, error: err instanceof RefusedAddress ? `refused: ${err.message}` : err.message }));
    req.end(body);
  });
}
