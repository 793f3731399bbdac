import { IsIn, IsObject } from 'class-validator';
import { ForTenant } from '../validation';

/**
 * Points events for producers that do not wait for the event to be applied: the
 * `points.enqueue` pattern writes the event to points-service's inbox (`points.inbox` in
 * PostgreSQL) and answers once that committed; a points-service worker applies it later
 * through the same handler, with the same idempotency by event_no, as the route of its kind.
 */
export const PointsEventKind = {
  PRODUCE_DIRECT: 'produce_direct',
  PRODUCE_BY_RULE: 'produce_by_rule',
  CONSUME_DIRECT: 'consume_direct',
  REVERSE_PRODUCE: 'reverse_produce',
  REVERSE_CONSUME: 'reverse_consume',
  TRANSFER_DIRECT: 'transfer_direct',
} as const;
export type PointsEventKind = (typeof PointsEventKind)[keyof typeof PointsEventKind];

export class PointsEnqueueDto {
  @IsIn(Object.values(PointsEventKind), { message: `kind must be one of ${Object.values(PointsEventKind).join(', ')}` })
  kind!: PointsEventKind;

  /** The event, as the route of that kind takes it (checked against that route's contract before it is written). */
  @IsObject({ message: 'event must be an object' })
  event!: Record<string, unknown>;
}

export class PointsEnqueueMsg extends ForTenant(PointsEnqueueDto) {}

/** The answer of `points.enqueue`: the event is in the inbox (written now, or by an earlier call with the same id and payload). */
export interface PointsQueuedView {
  kind: PointsEventKind;
  /** event_no, or transfer_no for transfer_direct: the event's id in the inbox. */
  event_no: string;
  /** True when an earlier call had queued the same event. */
  duplicate: boolean;
}

/** The id of an event in the inbox, by kind: transfer_direct events are known by their transfer_no. */
export const inboxEventNo = (kind: PointsEventKind, event: Record<string, unknown>): string =>
  String(kind === PointsEventKind.TRANSFER_DIRECT ? event.transfer_no : event.event_no);
