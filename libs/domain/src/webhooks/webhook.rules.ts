/**
 * When a failed delivery is tried again, and when an endpoint is given up on. Pure rules:
 * webhook-service applies them with its clock.
 */

/**
 * Waits after each failed attempt (the Standard Webhooks / Svix schedule): attempt 1 at
 * once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h later — 8 attempts over about
 * 27.6 hours. After the last the delivery is failed (it can still be retried by hand).
 */
export const WEBHOOK_RETRY_DELAYS_MS: readonly number[] = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000];
export const WEBHOOK_MAX_ATTEMPTS = WEBHOOK_RETRY_DELAYS_MS.length + 1;

/** How long to wait after the `attempts`-th attempt failed, or null when it was the last. */
export function retryDelayMs(attempts: number): number | null {
  if (!Number.isInteger(attempts) || attempts < 1) throw new RangeError(`attempts must be a positive integer, got ${attempts}`);
  return attempts <= WEBHOOK_RETRY_DELAYS_MS.length ? WEBHOOK_RETRY_DELAYS_MS[attempts - 1] : null;
}

/**
 * An endpoint is disabled when a delivery to it has failed for good and nothing was
 * delivered to it since that delivery's first attempt: it has answered nothing but
 * failures for the whole schedule (about a day). `failingSince` is the first failure since
 * the endpoint's last success (null: its last attempt succeeded).
 */
export function shouldDisable(failingSince: Date | null, firstAttemptAt: Date): boolean {
  return failingSince !== null && failingSince.getTime() <= firstAttemptAt.getTime();
}

/** An answer counts as delivered when it is 2xx; anything else (3xx too: redirects are not followed) is a failure. */
export const isDelivered = (status: number | null): boolean => status !== null && status >= 200 && status < 300;
