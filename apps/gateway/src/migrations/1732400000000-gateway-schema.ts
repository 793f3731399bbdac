import { MigrationInterface, QueryRunner } from 'typeorm';

/** Tenant API keys, stored as SHA-256 hashes (the key itself is shown once). */
export class GatewaySchema1732400000000 implements MigrationInterface {
  name = 'GatewaySchema1732400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE gateway.api_key (
        crm_id      varchar(32) NOT NULL,
        key_hash    char(64) NOT NULL,
        scope       varchar(8) NOT NULL CHECK (scope IN ('admin', 'client')),
        create_time timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (crm_id, key_hash)
      )`);
    await q.query(`CREATE INDEX api_key_by_hash ON gateway.api_key (key_hash)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE gateway.api_key`);
  }
}
