import { lastValueFrom } from 'rxjs';
import { CardFactsMsg, CardFactsPage, CardPattern, Envelope, isEnvelope } from '@app/domain';
import { RedisStreamsClient } from '@app/platform';

export const CARD_FACTS_CLIENT = Symbol('CARD_FACTS_CLIENT');

/** Facts asked per page (card-service allows at most 10,000). */
export const FACTS_PAGE_SIZE = 5_000;

/**
 * dashboard-service's only request to card-service: a tenant's card facts, page by page
 * (`card.event_facts`), for the rebuild. Over the same Redis-streams transport as the
 * gateway's requests, with the same deadline (RPC_TIMEOUT_MS).
 */
export class CardFactsClient {
  constructor(private readonly transport: RedisStreamsClient) {}

  /** One page; throws with card-service's message when it answers an error (or nothing in time). */
  async page(crmId: string, cursor: string | null): Promise<CardFactsPage> {
    const msg: CardFactsMsg = { crm_id: crmId, limit: FACTS_PAGE_SIZE, ...(cursor === null ? {} : { cursor }) };
    let answer: unknown;
    try {
      answer = await lastValueFrom(this.transport.send(CardPattern.EVENT_FACTS, msg));
    } catch (err) {
      answer = err;
    }
    if (!isEnvelope(answer)) throw new Error(`card-service answered ${CardPattern.EVENT_FACTS} without an envelope: ${JSON.stringify(answer)?.slice(0, 200)}`);
    const env = answer as Envelope<CardFactsPage>;
    if (env.code !== 0 || !env.data) throw new Error(`card-service answered ${CardPattern.EVENT_FACTS} with ${env.code}: ${env.msg}`);
    return env.data;
  }

  close(): Promise<void> {
    return this.transport.close();
  }
}
