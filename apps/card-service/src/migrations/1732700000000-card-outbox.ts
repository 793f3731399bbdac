import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The outbox of card events (contract: libs/domain/src/contracts/card-events.ts). Every
 * state change of member codes writes its rows here in its own transaction; the relay
 * (OutboxRelay) moves them to the `card-events` queue and deletes them. event_id is the
 * event's id for the dashboard; the index on it alone is the relay's (it takes the oldest
 * rows of every tenant at once).
 */
export class CardOutbox1732700000000 implements MigrationInterface {
  name = 'CardOutbox1732700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE card.outbox (
        crm_id       varchar(32) NOT NULL,
        event_id     bigserial NOT NULL,
        kind         varchar(16) NOT NULL,
        card_id      varchar(32) NOT NULL,
        title        varchar(64) NOT NULL,
        member_no    varchar(64) NOT NULL,
        count        integer NOT NULL CHECK (count > 0),
        channel      varchar(64),
        occurred_at  timestamptz NOT NULL,
        day_of       timestamptz NOT NULL,
        ref          varchar(64),
        PRIMARY KEY (crm_id, event_id)
      )`);
    await q.query(`CREATE INDEX outbox_relay ON card.outbox (event_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE card.outbox`);
  }
}
