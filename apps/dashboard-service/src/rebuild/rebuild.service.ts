import { Inject, Injectable } from '@nestjs/common';
import { cardFactProblem, CardFact } from '@app/domain';
import { AppConfig, CONFIG } from '@app/platform';
import { CARD_FACTS_CLIENT, CardFactsClient } from './card-facts.client';
import { BuildReport, RollupBuilder } from './rollup.builder';

/** Where a rebuild takes its facts: card-service over the transport, or the rows already staged (benchmarks). */
export type FactSource = 'card' | 'staged';

export interface RebuildOptions {
  crmId: string;
  apply: boolean;
  source: FactSource;
  /** Called after each page fetched (facts so far). */
  onPage?: (factsSoFar: number) => void;
}

/** Pages a rebuild fetches at most (a cursor that never ends is an error, not a hang). */
const MAX_PAGES = 100_000;

/**
 * `dashboard:rebuild`: a tenant's rollups recomputed from card-service's facts and
 * compared with (or put in place of) what the events built. Fetching and staging first
 * (each page one array insert into rebuild_event), then one transaction (RollupBuilder).
 */
@Injectable()
export class RebuildService {
  constructor(
    private readonly builder: RollupBuilder,
    @Inject(CARD_FACTS_CLIENT) private readonly card: CardFactsClient,
    @Inject(CONFIG) private readonly cfg: AppConfig,
  ) {}

  async rebuild(o: RebuildOptions): Promise<BuildReport> {
    if (o.source === 'card') await this.fetchAndStage(o);
    return this.builder.build(o.crmId, this.cfg.appTz, o.apply);
  }

  /** Replaces the tenant's staged facts with every page card-service answers. */
  private async fetchAndStage(o: RebuildOptions): Promise<void> {
    await this.builder.clearStaged(o.crmId);
    let cursor: string | null = null;
    let total = 0;
    for (let pages = 0; ; pages++) {
      if (pages >= MAX_PAGES) throw new Error(`card-service gave more than ${MAX_PAGES} pages of facts`);
      const page = await this.card.page(o.crmId, cursor);
      const facts = page.facts.map((f, i) => this.checked(o.crmId, f, total + i));
      await this.builder.stage(o.crmId, facts);
      total += facts.length;
      o.onPage?.(total);
      if (page.cursor === null) return;
      if (page.cursor === cursor) throw new Error(`card-service answered the same cursor twice (${cursor})`);
      cursor = page.cursor;
    }
  }

  /** A fact from card-service checked before it is staged: a bad one stops the rebuild (nothing is replaced). */
  private checked(crmId: string, f: CardFact, index: number): CardFact {
    const problem = cardFactProblem(f) ?? (f.crm_id !== crmId ? `crm_id ${f.crm_id} is not ${crmId}` : null);
    if (problem) throw new Error(`fact #${index + 1} from card-service is malformed: ${problem}`);
    return f;
  }
}
