import { Inject, Injectable } from '@nestjs/common';
import { Envelope, HistoryMsg, MemberQueryMsg, ok, PointsEventView, PointsSummaryView } from '@app/domain';
import { AppConfig, Clock, CONFIG, drainInBatches } from '@app/platform';
import { JournalRepository } from './journal.repository';
import { LedgerRepository } from './ledger.repository';

/** What a member's points are at the moment asked, the journal as the spec filters it, and the expiry sweep's rows. */
@Injectable()
export class JournalService {
  constructor(
    private readonly journal: JournalRepository,
    private readonly ledger: LedgerRepository,
    private readonly clock: Clock,
    @Inject(CONFIG) private readonly cfg: AppConfig,
  ) {}

  async summary(m: MemberQueryMsg): Promise<Envelope<PointsSummaryView>> {
    return ok(await this.journal.summary(m.crm_id, m.member_no, this.clock.now(), this.cfg.appTz), 'OK');
  }

  async history(m: HistoryMsg): Promise<Envelope<{ total: number; items: PointsEventView[] }>> {
    const page = await this.journal.history(m, this.cfg.appTz, this.clock.now());
    return ok({ total: page.total, items: page.result }, 'OK');
  }

  /** Sweep: an `expired` history row for each lot past its expiry, in batches. */
  async expireLots(): Promise<number> {
    const now = this.clock.now();
    return drainInBatches(this.cfg.expiryBatchSize, (size) => this.ledger.expireDue(now, size));
  }
}
