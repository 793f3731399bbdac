import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { HistoryMsg, Page, PointsEventView, PointsSummaryView } from '@app/domain';
import { fmtTime, num } from '@app/platform';
import { EVENT_COLUMNS, toEventView } from './ledger.repository';
import { spendableLot } from './ledger.sql';

type Row = Record<string, any>;

/** The read side of the ledger: a member's summary at a moment, and the journal by the spec's filters. */
@Injectable()
export class JournalRepository {
  constructor(private readonly db: DataSource) {}

  /** A member's points at `now`, from the lots (by their times) and the member's counters. */
  async summary(crmId: string, memberNo: string, now: Date, tz: string): Promise<PointsSummaryView> {
    const rows: Row[] = await this.db.query(
      `WITH sums AS (
         SELECT m.detail_id, m.total_points, m.used_points, m.debt_points, m.create_time, m.update_time,
                coalesce(sum(l.remaining) FILTER (WHERE ${spendableLot('l', '$3')}), 0) AS spendable,
                coalesce(sum(l.remaining) FILTER (WHERE (l.expire_time IS NULL OR l.expire_time > $3) AND l.unfreeze_time > $3), 0) AS frozen,
                coalesce(sum(l.remaining) FILTER (WHERE l.expire_time <= $3), 0) AS expired,
                coalesce(sum(l.remaining) FILTER (WHERE l.expire_time > $3 AND l.expire_time <= $3 + interval '7 days'
                                                   AND (l.unfreeze_time IS NULL OR l.unfreeze_time <= $3)), 0) AS soon
           FROM points.member m
           LEFT JOIN points.lot l ON l.crm_id = m.crm_id AND l.member_no = m.member_no AND l.remaining > 0
          WHERE m.crm_id = $1 AND m.member_no = $4
          GROUP BY m.crm_id, m.member_no, m.detail_id)
       -- A debt (an earn reversed with allow_negative after its points were spent) is owed from the active points.
       SELECT detail_id, total_points::text AS total_points, used_points::text AS used_points, frozen::text AS frozen, expired::text AS expired,
              (spendable - debt_points)::text AS active, LEAST(soon, GREATEST(spendable - debt_points, 0))::text AS soon,
              ${fmtTime('create_time', '$2')} AS create_time, ${fmtTime('update_time', '$2')} AS update_time
         FROM sums`,
      [crmId, tz, now, memberNo],
    );
    const r = rows[0];
    return {
      detail_id: r ? num(r.detail_id) : null,
      crm_id: crmId,
      member_no: memberNo,
      total_points: num(r?.total_points),
      freeze_points: num(r?.frozen),
      expired_points: num(r?.expired),
      active_points: num(r?.active),
      used_points: num(r?.used_points),
      future_expired: num(r?.soon),
      create_time: r?.create_time ?? null,
      update_time: r?.update_time ?? null,
    };
  }

  /** The journal, newest first, by the spec's filters; times in the tenant's zone. */
  async history(m: HistoryMsg, tz: string, now: Date): Promise<Page<PointsEventView>> {
    const where = ['e.crm_id = $1'];
    const params: unknown[] = [m.crm_id, tz];
    const add = (sql: string, v: unknown) => {
      params.push(v);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (m.member_no !== undefined) add('e.member_no = ?', m.member_no);
    if (m.search_type === 'transfer') add('e.event_type = ?', 'transfer_out');
    else if (m.search_type === 'accept') {
      // Points received by accepting a transfer: receipts of transfer/direct have no transfer row.
      add(`e.event_type = ? AND EXISTS (SELECT 1 FROM points.transfer t WHERE t.crm_id = e.crm_id AND t.transfer_no = e.from_transfer_no)`, 'transfer_in');
    } else if (m.search_type === 'freeze') {
      // Earns still frozen at the moment asked (as the summary's freeze_points: not unfrozen, not expired, not wholly reversed).
      params.push(now);
      const at = `$${params.length}`;
      where.push(`e.event_type = 'produce' AND e.reverse_status <> 2 AND e.unfreeze_time > ${at} AND (e.expire_time IS NULL OR e.expire_time > ${at})`);
    } else if (m.search_type !== undefined) add('e.event_type = ?', m.search_type);
    if (m.action_scene !== undefined) add('e.action_scene = ?', m.action_scene);
    if (m.campaign_code !== undefined) add('e.campaign_code = ?', m.campaign_code);
    if (m.store_code !== undefined) add('e.store_code = ?', m.store_code);
    if (m.cost_center !== undefined) add('e.cost_center = ?', m.cost_center);
    if (m.start_time !== undefined) add('e.event_at >= (?::timestamp AT TIME ZONE $2)', m.start_time);
    if (m.end_time !== undefined) add('e.event_at < (?::timestamp AT TIME ZONE $2)', m.end_time);
    const filter = where.join(' AND ');
    const [{ total }] = await this.db.query(`SELECT count(*)::int AS total FROM points.event e WHERE ${filter} AND $2::text IS NOT NULL`, params);
    const size = m.page_size ?? 20;
    const rows: Row[] = await this.db.query(
      `SELECT ${EVENT_COLUMNS} FROM points.event e WHERE ${filter} ORDER BY e.auto_id DESC LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
      [...params, size, ((m.page_id ?? 1) - 1) * size],
    );
    return { total, result: rows.map(toEventView) };
  }
}
