import { Injectable } from '@nestjs/common';
import { CardFact, CardFactsPage, CardFactsRequest, DEFAULT_FACTS_PAGE, Envelope, invalid, ok } from '@app/domain';
import { decodeFactsCursor, encodeFactsCursor, FACT_SOURCES, FactsCursor } from './facts.cursor';
import { FactsRepository } from './facts.repository';

/**
 * A tenant's card facts for the dashboard's rebuild: every event card-service's tables
 * tell, as the outbox wrote it (CardFact), source table after source table. A page reads
 * its sources in order from the cursor until it holds `limit` facts: one statement per
 * source it touches (usually one). The cursor is null once the last source is done (a
 * page that ends exactly at the end may be followed by an empty last page). Pages are
 * separate statements, not one snapshot: what changes meanwhile is seen or not.
 */
@Injectable()
export class FactsService {
  constructor(private readonly facts: FactsRepository) {}

  async page(m: CardFactsRequest): Promise<Envelope<CardFactsPage>> {
    const limit = m.limit ?? DEFAULT_FACTS_PAGE;
    let at: FactsCursor = { source: FACT_SOURCES[0], key: null };
    if (m.cursor !== undefined) {
      const decoded = decodeFactsCursor(m.crm_id, m.cursor);
      if ('refused' in decoded) return invalid([{ field: 'cursor', message: decoded.refused }]);
      at = decoded;
    }
    const out: CardFact[] = [];
    const from = FACT_SOURCES.indexOf(at.source);
    for (let i = from; i < FACT_SOURCES.length; i++) {
      const want = limit - out.length;
      const got = await this.facts.read(FACT_SOURCES[i], m.crm_id, i === from ? at.key : null, want);
      out.push(...got.map((g) => g.fact));
      if (got.length === want) return ok({ facts: out, cursor: encodeFactsCursor(m.crm_id, FACT_SOURCES[i], got[got.length - 1].key) });
    }
    return ok({ facts: out, cursor: null });
  }
}
