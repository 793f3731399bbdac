import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The points ledger. Every earn is a lot (amount, what is left of it, expiry and
 * unfreezing); every event is a journal row, unique by event_no per tenant; a spend
 * records which lots it took from. Amounts are numeric(18,4): exact, 4 decimal places.
 *
 * At every instant, for a member (see docs/api-notes.md, "Points"):
 *   total_points = active_points + freeze_points + expired_points + used_points
 * where freeze and expired come from the lots (by their times against now), active is
 * the spendable lots less the member's debt, and total and used are kept on the member row.
 */
export class LedgerSchema1732600000000 implements MigrationInterface {
  name = 'LedgerSchema1732600000000';

  async up(q: QueryRunner): Promise<void> {
    // One row per member: every change of a member's points takes its lock first.
    await q.query(`
      CREATE TABLE points.member (
        crm_id        varchar(32) NOT NULL,
        member_no     varchar(64) NOT NULL,
        detail_id     bigserial NOT NULL,
        total_points  numeric(18,4) NOT NULL DEFAULT 0,
        used_points   numeric(18,4) NOT NULL DEFAULT 0,
        -- Points owed: an earn reversed with allow_negative after its points were spent. Later earns pay it first.
        debt_points   numeric(18,4) NOT NULL DEFAULT 0 CHECK (debt_points >= 0),
        create_time   timestamptz NOT NULL DEFAULT now(),
        update_time   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (crm_id, member_no)
      )`);
    await q.query(`
      CREATE TABLE points.lot (
        crm_id        varchar(32) NOT NULL,
        lot_id        bigserial NOT NULL,
        member_no     varchar(64) NOT NULL,
        event_no      varchar(64) NOT NULL,
        amount        numeric(18,4) NOT NULL CHECK (amount > 0),
        remaining     numeric(18,4) NOT NULL CHECK (remaining >= 0 AND remaining <= amount),
        expire_time   timestamptz,
        unfreeze_time timestamptz,
        -- When the expiry sweep wrote this lot's expired history row.
        expired_at    timestamptz,
        create_time   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (crm_id, lot_id)
      )`);
    await q.query(`CREATE INDEX lot_open ON points.lot (crm_id, member_no, expire_time, lot_id) WHERE remaining > 0`);
    await q.query(`CREATE INDEX lot_due ON points.lot (expire_time) WHERE expired_at IS NULL AND remaining > 0 AND expire_time IS NOT NULL`);
    // A transfer waiting for its receiver: the points are held (taken from the sender's lots) until accepted or returned.
    await q.query(`
      CREATE TABLE points.transfer (
        crm_id        varchar(32) NOT NULL,
        transfer_no   varchar(64) NOT NULL,
        from_user     varchar(64) NOT NULL,
        to_user       varchar(64) NOT NULL,
        points        numeric(18,4) NOT NULL,
        out_event_id  bigint NOT NULL,
        status        varchar(16) NOT NULL DEFAULT 'pending',
        create_time   timestamptz NOT NULL,
        accept_time   timestamptz,
        return_time   timestamptz,
        PRIMARY KEY (crm_id, transfer_no)
      )`);
    await q.query(`CREATE INDEX transfer_pending ON points.transfer (create_time) WHERE status = 'pending'`);
    await q.query(`
      CREATE TABLE points.event (
        auto_id          bigserial NOT NULL,
        crm_id           varchar(32) NOT NULL,
        event_no         varchar(64) NOT NULL,
        member_no        varchar(64) NOT NULL,
        event_type       varchar(32) NOT NULL,
        action_scene     varchar(64),
        points           numeric(18,4) NOT NULL,
        event_at         timestamptz NOT NULL,
        expire_time      timestamptz,
        unfreeze_time    timestamptz,
        origin_event_no  varchar(64),
        from_transfer_no varchar(64),
        reverse_status   smallint NOT NULL DEFAULT 0,
        reversed_points  numeric(18,4) NOT NULL DEFAULT 0,
        rule_id          bigint,
        store_code       varchar(64),
        cost_center      varchar(64),
        campaign_code    varchar(64),
        operator         varchar(64),
        event_desc       text,
        order_items      jsonb,
        payload_hash     varchar(64) NOT NULL,
        create_time      timestamptz NOT NULL DEFAULT now(),
        update_time      timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (crm_id, auto_id)
      )`);
    await q.query(`CREATE UNIQUE INDEX event_no_unique ON points.event (crm_id, event_no)`);
    await q.query(`CREATE INDEX event_member ON points.event (crm_id, member_no, auto_id DESC)`);
    await q.query(`CREATE INDEX event_listing ON points.event (crm_id, auto_id DESC)`);
    await q.query(`CREATE INDEX event_rule ON points.event (crm_id, member_no, rule_id, event_at) WHERE rule_id IS NOT NULL`);
    // Earning rules: per tenant and action_scene, fixed points or points per unit paid.
    await q.query(`
      CREATE TABLE points.rule (
        crm_id          varchar(32) NOT NULL,
        rule_id         bigserial NOT NULL,
        action_scene    varchar(64) NOT NULL,
        name            varchar(64) NOT NULL,
        mode            varchar(16) NOT NULL,
        points          numeric(18,4),
        rate            numeric(18,4),
        rounding        varchar(8) NOT NULL DEFAULT 'floor',
        daily_cap       numeric(18,4),
        total_cap       numeric(18,4),
        expire_days     integer,
        freeze_hours    integer,
        starts_at       timestamptz,
        ends_at         timestamptz,
        enabled         boolean NOT NULL DEFAULT true,
        create_time     timestamptz NOT NULL DEFAULT now(),
        update_time     timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (crm_id, rule_id)
      )`);
    await q.query(`CREATE INDEX rule_scene ON points.rule (crm_id, action_scene, rule_id DESC) WHERE enabled`);
    // Which lots a spend took from, how much of each, and how much a reversal gave back.
    await q.query(`
      CREATE TABLE points.allocation (
        crm_id    varchar(32) NOT NULL,
        event_id  bigint NOT NULL,
        lot_id    bigint NOT NULL,
        points    numeric(18,4) NOT NULL CHECK (points > 0),
        returned  numeric(18,4) NOT NULL DEFAULT 0 CHECK (returned >= 0 AND returned <= points),
        PRIMARY KEY (crm_id, event_id, lot_id)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['transfer', 'rule', 'allocation', 'event', 'lot', 'member']) await q.query(`DROP TABLE points.${t}`);
  }
}
