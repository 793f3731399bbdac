import { createHash } from 'node:crypto';

/**
 * What an idempotent request is compared by: the same id with the same payload is a
 * repeat, with another payload a conflict. Callers list the fields that make the payload
 * (in a fixed order) and an `op` naming the use case.
 */
export const payloadHash = (payload: unknown): string => createHash('sha256').update(JSON.stringify(payload)).digest('hex');
