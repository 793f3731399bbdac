import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The coupon dashboard's read model, fed only by `card-events` (nothing is read from
 * card-service's tables). Each event is applied once, by (crm_id, event_id), in the same
 * transaction as its `applied_event` row, so a redelivered or duplicated event finds its
 * mark and changes nothing.
 *
 * Every count is kept on the day the event counts on: the tenant's zone (APP_TZ) day of
 * the event's `day_of`, so a reversal lands on the day of the claim or redemption it
 * reverses and takes it back there (card, channel and member). Counts are net: a reversal
 * that arrives before its claim leaves -n that the claim brings back to 0, so the order of
 * delivery does not matter.
 *
 * Every route reads few rows: a range of 90 days is at most 90 rows per (kind, channel)
 * or per card, or a few thousand member_span rows, whatever the events and members.
 *
 * - `card_day`: per tenant, day and card, one counter per kind (claim and redeem net of
 *   their reversals; the reversals also on their own, for a rebuild to compare).
 *   `card_day_top` covers card_top (the range's days read from the index alone).
 * - `tenant_day`: the same counters summed over the tenant's cards, per day (card_trend
 *   without a card).
 * - `channel_day`: claims per out_str and redemptions per redeem_channel, net, per card
 *   (card_channel with a card: the card's days are one range of the key).
 * - `channel_day_all`: the same summed over cards (card_channel without a card).
 * - `member_day`: per tenant, kind (claim, redeem, present), card, member and day, the net
 *   number of codes; a member counts for a day while it is > 0. Keyed by member before
 *   day: a member's days of a card (its chain, below) are one range of the key.
 * - `member_all_day`: the same summed over cards (per tenant, kind, member and day): the
 *   member is active on the day while num > 0.
 * - `member_span`: per tenant, kind, scope (card_id: one card, or '' for any card), day
 *   and prev_day, how many members are active on `day` (in the scope) whose previous
 *   active day (same kind, same scope) is `prev_day` ('0001-01-01' when none). Distinct
 *   members over [a, b] = sum(n) of the scope's rows with day in [a, b] and prev_day < a
 *   (each member once: at its first active day of the range); on a day d = sum(n) of day
 *   d. At most days x days small rows per scope, whatever the members. The '' scope is fed
 *   by member_all_day, a card's by its member_day rows.
 * - `card`: the latest title seen in events per card (by occurred_at), for the top lists.
 * - `rebuild_event`: unlogged staging of a tenant's facts for the rebuild (RollupBuilder);
 *   not part of the read model.
 *
 * Every primary key starts with crm_id (DESIGN.md: distributable by tenant).
 */
export class RollupSchema1732700000000 implements MigrationInterface {
  name = 'RollupSchema1732700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE dashboard.applied_event (
        crm_id      varchar(32) NOT NULL,
        event_id    varchar(64) NOT NULL,
        applied_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (crm_id, event_id)
      )`);
    await q.query(`
      CREATE TABLE dashboard.card (
        crm_id    varchar(32) NOT NULL,
        card_id   varchar(64) NOT NULL,
        title     varchar(256) NOT NULL,
        -- occurred_at of the event the title came from: an older event arriving later does not overwrite it.
        title_at  timestamptz NOT NULL,
        PRIMARY KEY (crm_id, card_id)
      )`);
    await q.query(`
      CREATE TABLE dashboard.card_day (
        crm_id              varchar(32) NOT NULL,
        day                 date NOT NULL,
        card_id             varchar(64) NOT NULL,
        claim_num           integer NOT NULL DEFAULT 0,
        claim_reverse_num   integer NOT NULL DEFAULT 0,
        redeem_num          integer NOT NULL DEFAULT 0,
        redeem_reverse_num  integer NOT NULL DEFAULT 0,
        present_num         integer NOT NULL DEFAULT 0,
        accept_num          integer NOT NULL DEFAULT 0,
        return_num          integer NOT NULL DEFAULT 0,
        expire_num          integer NOT NULL DEFAULT 0,
        void_num            integer NOT NULL DEFAULT 0,
        PRIMARY KEY (crm_id, day, card_id)
      ) WITH (fillfactor = 80)`);
    await q.query(`CREATE INDEX card_day_card ON dashboard.card_day (crm_id, card_id, day)`);
    // card_top: the range's rows from the index alone (pages left all-visible by vacuum; today's few from the heap).
    await q.query(`CREATE INDEX card_day_top ON dashboard.card_day (crm_id, day) INCLUDE (card_id, claim_num, redeem_num)`);
    await q.query(`
      CREATE TABLE dashboard.tenant_day (
        crm_id              varchar(32) NOT NULL,
        day                 date NOT NULL,
        claim_num           integer NOT NULL DEFAULT 0,
        claim_reverse_num   integer NOT NULL DEFAULT 0,
        redeem_num          integer NOT NULL DEFAULT 0,
        redeem_reverse_num  integer NOT NULL DEFAULT 0,
        present_num         integer NOT NULL DEFAULT 0,
        accept_num          integer NOT NULL DEFAULT 0,
        return_num          integer NOT NULL DEFAULT 0,
        expire_num          integer NOT NULL DEFAULT 0,
        void_num            integer NOT NULL DEFAULT 0,
        PRIMARY KEY (crm_id, day)
      ) WITH (fillfactor = 50)`);
    await q.query(`
      CREATE TABLE dashboard.channel_day (
        crm_id   varchar(32) NOT NULL,
        kind     varchar(8) NOT NULL CHECK (kind IN ('claim', 'redeem')),
        day      date NOT NULL,
        card_id  varchar(64) NOT NULL,
        channel  varchar(128) NOT NULL,
        num      integer NOT NULL DEFAULT 0,
        PRIMARY KEY (crm_id, kind, card_id, day, channel)
      ) WITH (fillfactor = 80)`);
    await q.query(`
      CREATE TABLE dashboard.channel_day_all (
        crm_id   varchar(32) NOT NULL,
        kind     varchar(8) NOT NULL CHECK (kind IN ('claim', 'redeem')),
        day      date NOT NULL,
        channel  varchar(128) NOT NULL,
        num      integer NOT NULL DEFAULT 0,
        PRIMARY KEY (crm_id, kind, day, channel)
      ) WITH (fillfactor = 50)`);
    await q.query(`
      CREATE TABLE dashboard.member_day (
        crm_id     varchar(32) NOT NULL,
        kind       varchar(8) NOT NULL CHECK (kind IN ('claim', 'redeem', 'present')),
        card_id    varchar(64) NOT NULL,
        day        date NOT NULL,
        member_no  varchar(64) NOT NULL,
        num        integer NOT NULL DEFAULT 0,
        PRIMARY KEY (crm_id, kind, card_id, member_no, day)
      ) WITH (fillfactor = 80)`);
    await q.query(`
      CREATE TABLE dashboard.member_all_day (
        crm_id     varchar(32) NOT NULL,
        kind       varchar(8) NOT NULL CHECK (kind IN ('claim', 'redeem', 'present')),
        member_no  varchar(64) NOT NULL,
        day        date NOT NULL,
        num        integer NOT NULL DEFAULT 0,
        PRIMARY KEY (crm_id, kind, member_no, day)
      ) WITH (fillfactor = 80)`);
    await q.query(`
      CREATE TABLE dashboard.member_span (
        crm_id    varchar(32) NOT NULL,
        kind      varchar(8) NOT NULL CHECK (kind IN ('claim', 'redeem', 'present')),
        -- '' (ALL_CARDS): members across cards; else one card's members.
        card_id   varchar(64) NOT NULL,
        day       date NOT NULL,
        prev_day  date NOT NULL,
        n         integer NOT NULL DEFAULT 0,
        -- INCLUDE n: a range of a scope is read from the index alone (5M events, 90 days: ~19,000 entries, ~5 ms).
        PRIMARY KEY (crm_id, kind, card_id, day, prev_day) INCLUDE (n)
      ) WITH (fillfactor = 70)`);
    // Members active per day (the sum of member_span's n over prev_day), per card and across cards (''): a range's daily lists read one row per day.
    await q.query(`
      CREATE TABLE dashboard.member_day_count (
        crm_id    varchar(32) NOT NULL,
        kind      varchar(8) NOT NULL CHECK (kind IN ('claim', 'redeem', 'present')),
        card_id   varchar(64) NOT NULL,
        day       date NOT NULL,
        members   integer NOT NULL DEFAULT 0,
        PRIMARY KEY (crm_id, kind, card_id, day) INCLUDE (members)
      ) WITH (fillfactor = 70)`);
    // Unlogged: a crash empties it, and a rebuild stages its facts again anyway.
    await q.query(`
      CREATE UNLOGGED TABLE dashboard.rebuild_event (
        crm_id       varchar(32) NOT NULL,
        kind         varchar(16) NOT NULL,
        card_id      varchar(64) NOT NULL,
        title        varchar(256) NOT NULL,
        member_no    varchar(64) NOT NULL,
        count        integer NOT NULL,
        channel      varchar(128),
        occurred_at  timestamptz NOT NULL,
        day_of       timestamptz NOT NULL,
        -- Order staged (ties of occurred_at between titles: the later staged wins, as the later applied does live).
        seq          bigint GENERATED ALWAYS AS IDENTITY
      )`);
    await q.query(`CREATE INDEX rebuild_event_crm ON dashboard.rebuild_event (crm_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    const tables = [
      'rebuild_event',
      'member_span',
      'member_all_day',
      'member_day',
      'channel_day_all',
      'channel_day',
      'tenant_day',
      'card_day',
      'card',
      'applied_event',
    ];
    for (const t of tables) await q.query(`DROP TABLE IF EXISTS dashboard.${t}`);
  }
}
