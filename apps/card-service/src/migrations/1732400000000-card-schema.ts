import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Card templates, stock jobs and the code pool. Every primary and unique key starts
 * with crm_id so the tables can be distributed by tenant.
 */
export class CardSchema1732400000000 implements MigrationInterface {
  name = 'CardSchema1732400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE card.card_info (
        coupon_id        bigserial NOT NULL,
        crm_id           varchar(32) NOT NULL,
        card_id          varchar(32) NOT NULL,
        card_type        smallint NOT NULL,
        title            varchar(64) NOT NULL,
        subtitle         varchar(128) NOT NULL,
        source           smallint NOT NULL,
        scene            varchar(64),
        notice           varchar(32) NOT NULL,
        rule             text NOT NULL,
        date_type        smallint NOT NULL,
        begin_time       bigint,
        end_time         bigint,
        start_day_count  integer,
        expire_day_count integer,
        weekdays         varchar(64),
        monthdays        varchar(128),
        day_begin_time   integer,
        day_end_time     integer,
        total_quantity   bigint NOT NULL DEFAULT 0,
        get_limit        smallint NOT NULL DEFAULT 0,
        use_limit        smallint NOT NULL DEFAULT 0,
        can_give_friend  boolean NOT NULL DEFAULT true,
        use_with_other_offer  boolean NOT NULL DEFAULT false,
        use_with_other_coupon boolean NOT NULL DEFAULT false,
        qty_condition    smallint,
        generate_type    smallint NOT NULL,
        generate_file    varchar(2048),
        cash_amount      numeric(14,2),
        cash_condition   numeric(14,2),
        discount         numeric(6,4),
        icon             varchar(128) NOT NULL,
        store_codes      text,
        cost_center      varchar(64),
        cost_type        smallint,
        cost_value       numeric(14,2),
        extra_info       jsonb,
        removed          boolean NOT NULL DEFAULT false,
        generated_count  bigint NOT NULL DEFAULT 0,
        received_count   bigint NOT NULL DEFAULT 0,
        next_slot        bigint NOT NULL DEFAULT 1,
        create_time      timestamptz NOT NULL DEFAULT now(),
        update_time      timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (crm_id, card_id)
      )`);
    await q.query(`CREATE INDEX card_info_listing ON card.card_info (crm_id, coupon_id DESC) WHERE NOT removed`);
    await q.query(`
      CREATE TABLE card.card_generate (
        auto_id          bigserial NOT NULL,
        crm_id           varchar(32) NOT NULL,
        card_id          varchar(32) NOT NULL,
        generate_id      varchar(64) NOT NULL,
        generate_type    smallint NOT NULL,
        card_num         bigint NOT NULL,
        source_file      varchar(2048),
        payload_hash     varchar(64) NOT NULL,
        status           varchar(16) NOT NULL DEFAULT 'pending',
        generated        bigint NOT NULL DEFAULT 0,
        rejected         bigint NOT NULL DEFAULT 0,
        rejected_reasons jsonb NOT NULL DEFAULT '{}',
        rejected_samples jsonb NOT NULL DEFAULT '[]',
        lines_done       bigint NOT NULL DEFAULT 0,
        error            text,
        is_generated     boolean NOT NULL DEFAULT false,
        create_time      timestamptz NOT NULL DEFAULT now(),
        update_time      timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (crm_id, generate_id)
      )`);
    await q.query(`CREATE INDEX card_generate_unfinished ON card.card_generate (create_time) WHERE NOT is_generated`);
    await q.query(`
      CREATE TABLE card.card_code (
        crm_id           varchar(32) NOT NULL,
        card_id          varchar(32) NOT NULL,
        slot             bigint NOT NULL,
        card_code        varchar(64) NOT NULL,
        generate_id      varchar(64) NOT NULL,
        card_code_status smallint NOT NULL DEFAULT 0,
        member_no        varchar(64),
        create_time      timestamptz NOT NULL DEFAULT now(),
        update_time      timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (crm_id, card_id, slot)
      )`);
    await q.query(`CREATE UNIQUE INDEX card_code_unique_code ON card.card_code (crm_id, card_code)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE card.card_code`);
    await q.query(`DROP TABLE card.card_generate`);
    await q.query(`DROP TABLE card.card_info`);
  }
}
