import { randomBytes, randomUUID } from 'node:crypto';

/**
 * Ids the gateway mints before it sends a request, so a request delivered twice (its
 * first taker died after committing) finds what the first delivery made instead of
 * making it again.
 */
export const newCardId = (): string => randomBytes(16).toString('hex');
export const newGenerateId = (): string => `gen-${randomUUID()}`;

/** Card ids: 32 lowercase hex characters, like the spec's `21008fdbabd30c04548a56be6eed016c`. */
export const CARD_ID_PATTERN = /^[0-9a-f]{32}$/;

/** Gift ids, like the spec's `2d5e31832df143f4b01516b835ed6763`. */
export const newPresentId = (): string => randomBytes(16).toString('hex');
