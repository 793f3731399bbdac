import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The deadline (Unix ms) of the transport request being handled, for handlers that queue
 * work: past it the caller has given up, and work not begun yet should not be done.
 */
export const requestDeadline = new AsyncLocalStorage<number>();
