import { Injectable } from '@nestjs/common';
import { Envelope, inboxEventNo, invalid, ok, payloadHash, PointsEnqueueMsg, PointsEventKind, PointsQueuedView } from '@app/domain';
import { checkContract, Clock, idConflict } from '@app/platform';
import { InboxRepository } from './inbox.repository';
import { InboxRoutes } from './inbox.routes';
import { InboxSignal } from './inbox.signal';

/** The producer's side of the inbox: an event checked as its route would check it, then written to PostgreSQL. */
@Injectable()
export class InboxService {
  constructor(
    private readonly repo: InboxRepository,
    private readonly routes: InboxRoutes,
    private readonly signal: InboxSignal,
    private readonly clock: Clock,
  ) {}

  /**
   * Answers once the row committed (PostgreSQL is the record; Redis only carried the
   * request). Invalid input is 400 naming the event's fields and writes nothing; the same
   * event_no with the same payload answers the first call (`duplicate: true`), with
   * another payload 409 40901, before anything is applied.
   */
  async enqueue(m: PointsEnqueueMsg): Promise<Envelope<PointsQueuedView>> {
    const route = this.routes.of(m.kind)!; // the contract allows known kinds only
    const event = { ...m.event, crm_id: m.crm_id };
    const checked = await checkContract(route.contract, event);
    if (!checked.ok) return invalid(checked.violations.map((v) => ({ ...v, field: `event.${v.field}` })));
    const eventNo = inboxEventNo(m.kind, event);
    const hash = payloadHash({ kind: m.kind, event });
    const existing = await this.repo.add({ crm_id: m.crm_id, kind: m.kind, event_no: eventNo, event, payload_hash: hash }, this.clock.now());
    if (existing && existing.hash !== hash) return idConflict(m.kind === PointsEventKind.TRANSFER_DIRECT ? 'transfer_no' : 'event_no', eventNo);
    if (!existing) this.signal.wake();
    return ok({ kind: m.kind, event_no: eventNo, duplicate: existing !== null }, 'queued');
  }
}
