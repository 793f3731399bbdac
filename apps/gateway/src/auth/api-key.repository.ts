import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { KeyScope } from '@app/domain';

export interface StoredKey {
  crm_id: string;
  scope: KeyScope;
}

@Injectable()
export class ApiKeyRepository {
  constructor(private readonly db: DataSource) {}

  async insert(crmId: string, keyHash: string, scope: KeyScope): Promise<void> {
    await this.db.query(`INSERT INTO gateway.api_key (crm_id, key_hash, scope) VALUES ($1, $2, $3)`, [crmId, keyHash, scope]);
  }

  async findByHash(keyHash: string): Promise<StoredKey | null> {
    const rows = await this.db.query(`SELECT crm_id, scope FROM gateway.api_key WHERE key_hash = $1 LIMIT 1`, [keyHash]);
    return rows[0] ?? null;
  }
}
