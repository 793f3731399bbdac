import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

/** The header a request id travels in, to and from the gateway. */
export const REQUEST_ID_HEADER = 'x-request-id';

const store = new AsyncLocalStorage<string>();

/** The id of the request this code runs for (HTTP at the gateway, a transport request in a service), if any. */
export const currentRequestId = (): string | undefined => store.getStore();

/** Runs `fn` (and everything it starts) as part of the request `id`. */
export const withRequestId = <T>(id: string | undefined, fn: () => T): T => (id ? store.run(id, fn) : fn());

/**
 * The id of an incoming request: the caller's `x-request-id` when it is a sensible token
 * (at most 128 letters, digits and `-_.:`), so a caller can follow its own ids through our
 * logs; otherwise a new UUID. Anything else is replaced, never echoed: a header is not a
 * place for a caller to write into our logs.
 */
export function acceptRequestId(given: unknown): string {
  return typeof given === 'string' && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
}
