import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { CardView, CreateCardDto, ListCardsQueryDto, MAX_PAGE_SIZE } from '@app/domain';
import { fmtTime, num, numOrNull } from '@app/platform';

const CARD_COLUMNS = `
  c.coupon_id, c.crm_id, c.card_id, c.card_type, c.title, c.subtitle, c.source, c.scene, c.notice, c.rule,
  c.date_type, c.begin_time, c.end_time, c.start_day_count, c.expire_day_count, c.weekdays, c.monthdays,
  c.day_begin_time, c.day_end_time, c.total_quantity, c.get_limit, c.use_limit, c.can_give_friend,
  c.use_with_other_offer, c.use_with_other_coupon, c.qty_condition, c.generate_type, c.generate_file,
  c.cash_amount, c.cash_condition, c.discount, c.icon, c.store_codes, c.cost_center, c.cost_type, c.cost_value,
  c.extra_info, c.removed, c.generated_count, c.received_count`;

type CardRow = Record<string, any>;

function toView(r: CardRow): CardView {
  const total = num(r.total_quantity);
  const generated = num(r.generated_count);
  return {
    coupon_id: num(r.coupon_id),
    crm_id: r.crm_id,
    card_id: r.card_id,
    card_type: r.card_type,
    title: r.title,
    subtitle: r.subtitle,
    source: r.source,
    scene: r.scene,
    notice: r.notice,
    rule: r.rule,
    date_type: r.date_type,
    begin_time: numOrNull(r.begin_time),
    end_time: numOrNull(r.end_time),
    start_day_count: r.start_day_count,
    expire_day_count: r.expire_day_count,
    weekdays: r.weekdays,
    monthdays: r.monthdays,
    day_begin_time: r.day_begin_time,
    day_end_time: r.day_end_time,
    dayend_time: r.day_end_time,
    total_quantity: total,
    get_limit: r.get_limit,
    use_limit: r.use_limit,
    can_give_friend: r.can_give_friend,
    use_with_other_offer: r.use_with_other_offer,
    use_with_other_coupon: r.use_with_other_coupon,
    qty_condition: r.qty_condition,
    generate_type: r.generate_type,
    generate_file: r.generate_file,
    cash_amount: numOrNull(r.cash_amount),
    cash_condition: numOrNull(r.cash_condition),
    discount: numOrNull(r.discount),
    icon: r.icon,
    store_codes: r.store_codes,
    cost_center: r.cost_center,
    cost_type: r.cost_type,
    cost_value: numOrNull(r.cost_value),
    extra_info: r.extra_info,
    removed: r.removed,
    create_time: r.create_time_s,
    update_time: r.update_time_s,
    generate_info: { generated, un_generate: Math.max(0, total - generated), total },
    receive_info: { received: num(r.received_count) },
  };
}

/** Every query on card templates. */
@Injectable()
export class CardRepository {
  constructor(private readonly db: DataSource) {}

  /** Inserts a card; false when one with this id exists already (a redelivered create). */
  async insert(em: EntityManager, crmId: string, cardId: string, d: Omit<CreateCardDto, 'ruleViolations'>): Promise<boolean> {
    const rows = await em.query(
      `INSERT INTO card.card_info (
         crm_id, card_id, card_type, title, subtitle, source, scene, notice, rule, date_type, begin_time, end_time,
         start_day_count, expire_day_count, weekdays, monthdays, day_begin_time, day_end_time, total_quantity,
         get_limit, use_limit, can_give_friend, use_with_other_offer, use_with_other_coupon, qty_condition,
         generate_type, generate_file, cash_amount, cash_condition, discount, icon, store_codes, cost_center,
         cost_type, cost_value, extra_info)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24,$25,$26,$27,$28,$29,$30,$31,$32,$33,$34,$35,$36)
       ON CONFLICT (crm_id, card_id) DO NOTHING RETURNING coupon_id`,
      [
        crmId,
        cardId,
        d.card_type,
        d.title,
        d.subtitle,
        d.source,
        d.scene ?? null,
        d.notice,
        d.rule,
        d.date_type,
        d.begin_time ?? null,
        d.end_time ?? null,
        d.start_day_count ?? null,
        d.expire_day_count ?? null,
        d.weekdays ?? null,
        d.monthdays ?? null,
        d.day_begin_time ?? null,
        d.day_end_time ?? null,
        d.total_quantity,
        d.get_limit ?? 0,
        d.use_limit ?? 0,
        d.can_give_friend ?? true,
        d.use_with_other_offer ?? false,
        d.use_with_other_coupon ?? false,
        d.qty_condition ?? null,
        d.generate_type,
        d.generate_file ?? null,
        d.cash_amount ?? null,
        d.cash_condition ?? null,
        d.discount ?? null,
        d.icon,
        d.store_codes ?? null,
        d.cost_center ?? null,
        d.cost_type ?? null,
        d.cost_value ?? null,
        d.extra_info ? JSON.stringify(d.extra_info) : null,
      ],
    );
    return rows.length > 0;
  }

  async find(crmId: string, cardId: string, tz: string, em: EntityManager = this.db.manager): Promise<CardView | null> {
    const rows: CardRow[] = await em.query(
      `SELECT ${CARD_COLUMNS}, ${fmtTime('c.create_time', '$3')} AS create_time_s, ${fmtTime('c.update_time', '$3')} AS update_time_s
         FROM card.card_info c WHERE c.crm_id = $1 AND c.card_id = $2`,
      [crmId, cardId, tz],
    );
    return rows.length ? toView(rows[0]) : null;
  }

  async list(crmId: string, q: ListCardsQueryDto, tz: string): Promise<{ total: number; results: CardView[] }> {
    const where = ['c.crm_id = $1', 'NOT c.removed'];
    const params: unknown[] = [crmId];
    const add = (sql: string, v: unknown) => {
      params.push(v);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (q.card_type !== undefined) add('c.card_type = ?', q.card_type);
    if (q.source !== undefined) add('c.source = ?', q.source);
    if (q.scene !== undefined) add('c.scene = ?', q.scene);
    const size = Math.min(q.page_size ?? 10, MAX_PAGE_SIZE);
    const offset = ((q.page_id ?? 1) - 1) * size;
    const filter = where.join(' AND ');
    const [{ total }] = await this.db.query(`SELECT count(*)::int AS total FROM card.card_info c WHERE ${filter}`, params);
    const n = params.length;
    const rows: CardRow[] = await this.db.query(
      `SELECT ${CARD_COLUMNS}, ${fmtTime('c.create_time', `$${n + 1}`)} AS create_time_s, ${fmtTime('c.update_time', `$${n + 1}`)} AS update_time_s
         FROM card.card_info c WHERE ${filter}
        ORDER BY c.coupon_id DESC LIMIT $${n + 2} OFFSET $${n + 3}`,
      [...params, tz, size, offset],
    );
    return { total, results: rows.map(toView) };
  }

  /** Soft removal; true when the card exists. */
  async markRemoved(crmId: string, cardId: string): Promise<boolean> {
    // TypeORM answers an UPDATE with [rows, affected count].
    const [, affected] = await this.db.query(`UPDATE card.card_info SET removed = true, update_time = now() WHERE crm_id = $1 AND card_id = $2`, [
      crmId,
      cardId,
    ]);
    return affected > 0;
  }
}
