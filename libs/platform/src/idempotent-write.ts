import { Envelope, ErrorCode, fail } from '@app/domain';

/** How an idempotent write's transaction ended: refused (an answer), its id recorded already, or done now. */
export type WriteOutcome = Envelope<never> | 'taken' | 'done';

/** Another payload under an id that is recorded already. */
export const idConflict = (idName: string, id: string): Envelope<never> =>
  fail(ErrorCode.IDEMPOTENCY_CONFLICT, `${idName} ${id} was used before with another payload`);

/**
 * The answer to an idempotent write (DESIGN.md: the same id with the same payload answers
 * the original result, another payload is a conflict): a refusal as it is; an id recorded
 * already (by an earlier call, or a concurrent copy that won) is a conflict unless the
 * stored payload hash is this one; then, as when done now, the record as stored.
 */
export async function settleWrite<T>(
  outcome: WriteOutcome,
  id: { name: string; value: string },
  hash: string,
  storedHash: () => Promise<string | null>,
  answer: () => Promise<Envelope<T>>,
): Promise<Envelope<T>> {
  if (typeof outcome === 'object') return outcome;
  if (outcome === 'taken' && (await storedHash()) !== hash) return idConflict(id.name, id.value);
  return answer();
}

/**
 * Works through what is due in batches until a batch comes back short: `batch` does up
 * to `size` items and answers how many it took. Answers the total taken.
 */
export async function drainInBatches(size: number, batch: (size: number) => Promise<number>): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await batch(size);
    total += n;
    if (n < size) return total;
  }
}
