// Every call of the console goes through here: the same origin, the session's key, and
// the API's envelope `{ code, msg, data, errors? }` turned into data or an ApiError.

export interface Violation {
  field: string;
  message: string;
}

interface Envelope<T> {
  code: number;
  msg: string;
  data?: T;
  errors?: Violation[];
}

/** A refusal of the API (or of the network), with the API's own words. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    readonly errors: Violation[] = [],
  ) {
    super(message);
  }

  /** 503 (50301 a service did not answer in time, 50302 the store is unreachable): try again later. */
  get busy(): boolean {
    return this.status === 503 || this.code === 50301 || this.code === 50302;
  }
}

/** Called on any 401 of a signed-in call: the key is no longer good, the session ends. */
let onUnauthorized: () => void = () => {};
export function whenUnauthorized(handler: () => void): void {
  onUnauthorized = handler;
}

type Query = Record<string, string | number | undefined>;

export interface CallOptions {
  query?: Query;
  body?: unknown;
  /** The key to use instead of the session's (sign-in checks a key before keeping it). */
  key?: string;
}

let sessionKey = '';
export function useKey(key: string): void {
  sessionKey = key;
}

export async function call<T>(method: 'GET' | 'POST', path: string, options: CallOptions = {}): Promise<T> {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(options.query ?? {})) {
    if (value !== undefined && value !== '') url.searchParams.set(name, String(value));
  }
  const headers: Record<string, string> = { authorization: `Bearer ${options.key ?? sessionKey}` };
  if (options.body !== undefined) headers['content-type'] = 'application/json';

  let response: Response;
  try {
    response = await fetch(url, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  } catch (e) {
    throw new ApiError(0, -1, e instanceof Error ? e.message : String(e));
  }
  let envelope: Envelope<T>;
  try {
    envelope = (await response.json()) as Envelope<T>;
  } catch {
    throw new ApiError(response.status, -1, `HTTP ${response.status} ${response.statusText}`);
  }
  if (response.status === 401 && options.key === undefined) onUnauthorized();
  if (!response.ok || envelope.code !== 0) {
    throw new ApiError(response.status, envelope.code, envelope.msg, envelope.errors ?? []);
  }
  return envelope.data as T;
}

/** A fresh idempotency id: 32 hex characters (the API allows 1-64 of letters, digits, _ . : -). */
export function newCallerId(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID().replaceAll('-', '');
  // randomUUID needs a secure context (https or localhost); the console may be served over plain http.
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}
