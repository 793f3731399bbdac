import { Inject, Injectable } from '@nestjs/common';
import { DateTime } from 'luxon';
import {
  CardChannelMsg,
  CardChannelView,
  CardTopMsg,
  CardTopView,
  CardTrendMsg,
  CardTrendView,
  DEFAULT_RANGE_DAYS,
  DEFAULT_TOP_LIMIT,
  daysBetween,
  Envelope,
  invalid,
  isEnvelope,
  ok,
  rangeViolations,
} from '@app/domain';
import { AppConfig, Clock, CONFIG } from '@app/platform';
import { RangeQuery, RollupRepository } from '../rollup/rollup.repository';

type Range = { start_date?: string; end_date?: string; crm_id: string; card_id?: string };

/** The three dashboard reads (spec: 卡券看板), from the rollups only. */
@Injectable()
export class DashboardService {
  constructor(
    private readonly rollups: RollupRepository,
    private readonly clock: Clock,
    @Inject(CONFIG) private readonly cfg: AppConfig,
  ) {}

  /** Claims, redemptions and gifts per day and in total, with distinct members; every day of the range is listed. */
  async trend(m: CardTrendMsg): Promise<Envelope<CardTrendView>> {
    const q = this.range(m);
    if (isEnvelope(q)) return q;
    const { days: counts, members } = await this.rollups.trendCounts(q);
    const tdate = daysBetween(q.start, q.end);
    const byDay = new Map(counts.map((c) => [c.day, c]));
    const memberOf = new Map(members.map((c) => [`${c.kind}|${c.day ?? ''}`, c.members]));
    const list = (pick: (d: string) => number) => tdate.map(pick);
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    const receive_num_list = list((d) => byDay.get(d)?.claim ?? 0);
    const redeem_num_list = list((d) => byDay.get(d)?.redeem ?? 0);
    const present_num_list = list((d) => byDay.get(d)?.present ?? 0);
    return ok({
      receive_num: sum(receive_num_list),
      receive_member_num: memberOf.get('claim|') ?? 0,
      receive_num_list,
      receive_member_num_list: list((d) => memberOf.get(`claim|${d}`) ?? 0),
      redeem_num: sum(redeem_num_list),
      redeem_member_num: memberOf.get('redeem|') ?? 0,
      redeem_num_list,
      redeem_member_num_list: list((d) => memberOf.get(`redeem|${d}`) ?? 0),
      present_num: sum(present_num_list),
      present_member_num: memberOf.get('present|') ?? 0,
      present_num_list,
      present_member_num_list: list((d) => memberOf.get(`present|${d}`) ?? 0),
      tdate,
    });
  }

  /** Net claims per out_str and redemptions per redeem_channel, largest first. */
  async channel(m: CardChannelMsg): Promise<Envelope<CardChannelView>> {
    const q = this.range(m);
    if (isEnvelope(q)) return q;
    const rows = await this.rollups.channelCounts(q);
    return ok({
      receive_channel_list: rows.filter((r) => r.kind === 'claim').map((r) => ({ channel_name: r.channel, receive_num: r.num })),
      redeem_channel_list: rows.filter((r) => r.kind === 'redeem').map((r) => ({ channel_name: r.channel, redeem_num: r.num })),
    });
  }

  /** The cards claimed most and redeemed most over the range, with their latest titles. */
  async top(m: CardTopMsg): Promise<Envelope<CardTopView>> {
    const q = this.range({ ...m, card_id: undefined });
    if (isEnvelope(q)) return q;
    const rows = await this.rollups.top(q, m.limit ?? DEFAULT_TOP_LIMIT);
    const order = (n: (r: (typeof rows)[number]) => number) => (a: (typeof rows)[number], b: (typeof rows)[number]) =>
      n(b) - n(a) || (a.card_id < b.card_id ? -1 : a.card_id > b.card_id ? 1 : 0);
    return ok({
      receive_top: rows
        .filter((r) => r.list === 'receive')
        .sort(order((r) => r.receive_num))
        .map((r) => ({ card_id: r.card_id, title: r.title, receive_num: r.receive_num })),
      redeem_top: rows
        .filter((r) => r.list === 'redeem')
        .sort(order((r) => r.redeem_num))
        .map((r) => ({ card_id: r.card_id, title: r.title, receive_num: r.redeem_num, redeem_num: r.redeem_num })),
    });
  }

  /**
   * The range asked, with the defaults filled in the tenant's zone (end: today by the
   * clock; start: DEFAULT_RANGE_DAYS - 1 days before end), checked again as a whole.
   */
  private range(m: Range): RangeQuery | Envelope<never> {
    const today = DateTime.fromJSDate(this.clock.now(), { zone: this.cfg.appTz }).toISODate()!;
    const end = m.end_date ?? today;
    const start =
      m.start_date ??
      DateTime.fromISO(end, { zone: 'UTC' })
        .minus({ days: DEFAULT_RANGE_DAYS - 1 })
        .toISODate()!;
    const bad = rangeViolations(start, end);
    if (bad.length) return invalid(bad);
    return { crm_id: m.crm_id, start, end, card_id: m.card_id };
  }
}
