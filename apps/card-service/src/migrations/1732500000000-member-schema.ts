import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What members do with codes: claims, the codes they hold, gifts, redemptions, expiry
 * and voiding (spec: t_member_*). Every primary and unique key starts with crm_id.
 *
 * The pool of a card is the slots claim_slot .. next_slot - 1 of card.card_code: a claim
 * moves claim_slot forward under the card's row lock; a reversed claim appends its codes
 * at next_slot again. So for every card:
 *   generated_count = (next_slot - claim_slot) + received_count
 * (codes in the pool + codes issued by claims and not reversed).
 */
export class MemberSchema1732500000000 implements MigrationInterface {
  name = 'MemberSchema1732500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE card.card_info ADD COLUMN claim_slot bigint NOT NULL DEFAULT 1`);

    // One claim request: its received_id, its payload and what it gave.
    await q.query(`
      CREATE TABLE card.member_receive (
        auto_id        bigserial NOT NULL,
        crm_id         varchar(32) NOT NULL,
        received_id    varchar(64) NOT NULL,
        member_no      varchar(64) NOT NULL,
        out_str        varchar(32) NOT NULL,
        card_info      jsonb NOT NULL,
        payload_hash   varchar(64) NOT NULL,
        is_reversed    smallint NOT NULL DEFAULT 0,
        received_time  timestamptz NOT NULL,
        reversed_time  timestamptz,
        create_time    timestamptz NOT NULL DEFAULT now(),
        update_time    timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (crm_id, received_id)
      )`);

    // t_member_card_record: how many codes of a card a member has claimed (gifts given away
    // do not give the count back; a reversed claim does) and redeemed.
    await q.query(`
      CREATE TABLE card.member_card_record (
        auto_id       bigserial NOT NULL,
        crm_id        varchar(32) NOT NULL,
        card_id       varchar(32) NOT NULL,
        member_no     varchar(64) NOT NULL,
        received_sum  integer NOT NULL DEFAULT 0,
        used_sum      integer NOT NULL DEFAULT 0,
        create_time   timestamptz NOT NULL DEFAULT now(),
        update_time   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (crm_id, card_id, member_no)
      )`);

    // t_member_card_code: one row per code a member holds or held. A gift accepted gives
    // the friend a new row (receive_type 1, received_id = present_id).
    await q.query(`
      CREATE TABLE card.member_card_code (
        auto_id        bigserial NOT NULL,
        crm_id         varchar(32) NOT NULL,
        received_id    varchar(64) NOT NULL,
        card_id        varchar(32) NOT NULL,
        member_no      varchar(64) NOT NULL,
        card_code      varchar(64) NOT NULL,
        begin_time     timestamptz NOT NULL,
        end_time       timestamptz,
        discount       numeric(6,4),
        out_str        varchar(32) NOT NULL,
        code_status    smallint NOT NULL DEFAULT 1,
        received_time  timestamptz NOT NULL,
        redeem_time    timestamptz,
        present_time   timestamptz,
        expired_time   timestamptz,
        obsoleted_time timestamptz,
        receive_type   smallint NOT NULL DEFAULT 0,
        is_reversed    smallint NOT NULL DEFAULT 0,
        create_time    timestamptz NOT NULL DEFAULT now(),
        update_time    timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (crm_id, auto_id)
      )`);
    // A code has at most one live holder: the database itself refuses a second.
    await q.query(`
      CREATE UNIQUE INDEX member_card_code_live ON card.member_card_code (crm_id, card_code)
       WHERE is_reversed = 0 AND code_status <> 6`);
    await q.query(`CREATE INDEX member_card_code_received ON card.member_card_code (crm_id, received_id)`);
    await q.query(`CREATE INDEX member_card_code_member ON card.member_card_code (crm_id, member_no, auto_id DESC)`);
    await q.query(`
      CREATE INDEX member_card_code_due ON card.member_card_code (end_time)
       WHERE code_status = 1 AND is_reversed = 0 AND end_time IS NOT NULL`);

    await q.query(`
      CREATE TABLE card.member_card_expired (
        auto_id       bigserial NOT NULL,
        crm_id        varchar(32) NOT NULL,
        received_id   varchar(64) NOT NULL,
        member_no     varchar(64) NOT NULL,
        card_id       varchar(32) NOT NULL,
        card_code     varchar(64) NOT NULL,
        expired_time  timestamptz NOT NULL,
        create_time   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (crm_id, auto_id)
      )`);

    await q.query(`
      CREATE TABLE card.member_card_obsoleted (
        auto_id        bigserial NOT NULL,
        crm_id         varchar(32) NOT NULL,
        received_id    varchar(64) NOT NULL,
        member_no      varchar(64) NOT NULL,
        card_id        varchar(32) NOT NULL,
        card_code      varchar(64) NOT NULL,
        obsoleted_time timestamptz NOT NULL,
        operator       varchar(32) NOT NULL,
        create_time    timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (crm_id, auto_id)
      )`);

    await q.query(`
      CREATE TABLE card.member_redeem (
        auto_id         bigserial NOT NULL,
        crm_id          varchar(32) NOT NULL,
        redeem_id       varchar(64) NOT NULL,
        card_id         varchar(32) NOT NULL,
        member_no       varchar(64) NOT NULL,
        card_code       varchar(64) NOT NULL,
        holder_id       bigint NOT NULL,
        redeem_channel  varchar(64) NOT NULL,
        redeem_extra    text NOT NULL,
        payload_hash    varchar(64) NOT NULL,
        redeem_time     timestamptz NOT NULL,
        rollback_status smallint NOT NULL DEFAULT 0,
        rollback_time   timestamptz,
        create_time     timestamptz NOT NULL DEFAULT now(),
        update_time     timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (crm_id, redeem_id)
      )`);

    await q.query(`
      CREATE TABLE card.member_present (
        auto_id         bigserial NOT NULL,
        crm_id          varchar(32) NOT NULL,
        present_id      varchar(64) NOT NULL,
        card_id         varchar(32) NOT NULL,
        card_code       varchar(64) NOT NULL,
        from_member_no  varchar(64) NOT NULL,
        from_holder_id  bigint NOT NULL,
        to_member_no    varchar(64),
        present_extra   text NOT NULL,
        payload_hash    varchar(64) NOT NULL,
        present_time    timestamptz NOT NULL,
        received_time   timestamptz,
        go_back_time    timestamptz,
        create_time     timestamptz NOT NULL DEFAULT now(),
        update_time     timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (crm_id, present_id)
      )`);
    await q.query(`CREATE INDEX member_present_from ON card.member_present (crm_id, from_member_no, auto_id DESC)`);
    await q.query(`CREATE INDEX member_present_listing ON card.member_present (crm_id, auto_id DESC)`);
    await q.query(`
      CREATE INDEX member_present_open ON card.member_present (present_time)
       WHERE received_time IS NULL AND go_back_time IS NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of [
      'member_present',
      'member_redeem',
      'member_card_obsoleted',
      'member_card_expired',
      'member_card_code',
      'member_card_record',
      'member_receive',
    ]) {
      await q.query(`DROP TABLE card.${t}`);
    }
    await q.query(`ALTER TABLE card.card_info DROP COLUMN claim_slot`);
  }
}
