import { Inject, Injectable } from '@nestjs/common';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { KeyScope } from '@app/domain';
import { AppConfig, CONFIG } from '@app/platform';
import { ApiKeyRepository, StoredKey } from './api-key.repository';

export type Caller = { root: true } | ({ root: false } & StoredKey);

const CACHE_TTL_MS = 30_000;
const CACHE_MAX = 10_000;

export const hashKey = (key: string) => createHash('sha256').update(key).digest('hex');
/** What logs and rate limits name a key by: the first 12 hex digits of its hash (the key itself is never written anywhere). */
export const keyId = (key: string) => hashKey(key).slice(0, 12);

/** Tenant keys: issued once, stored hashed, looked up with a short cache. */
@Injectable()
export class AuthService {
  private readonly rootHash: Buffer;
  private readonly cache = new Map<string, { key: StoredKey; until: number }>();

  constructor(
    private readonly keys: ApiKeyRepository,
    @Inject(CONFIG) cfg: AppConfig,
  ) {
    this.rootHash = Buffer.from(hashKey(cfg.rootApiKey), 'hex');
  }

  async identify(presented: string): Promise<Caller | null> {
    const hash = hashKey(presented);
    if (timingSafeEqual(Buffer.from(hash, 'hex'), this.rootHash)) return { root: true };
    const cached = this.cache.get(hash);
    if (cached && cached.until > Date.now()) return { root: false, ...cached.key };
    const key = await this.keys.findByHash(hash);
    if (!key) return null;
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(hash, { key, until: Date.now() + CACHE_TTL_MS });
    return { root: false, ...key };
  }

  async issue(crmId: string, scope: KeyScope): Promise<{ key: string; scope: KeyScope; crm_id: string }> {
    const key = `lk_${randomBytes(32).toString('base64url')}`;
    await this.keys.insert(crmId, hashKey(key), scope);
    return { key, scope, crm_id: crmId };
  }
}
