import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Service } from '@app/domain';
import { AppConfig, CONFIG, dataSourceOptions, RedisStreamsClient } from '@app/platform';
import { RollupRepository } from '../rollup/rollup.repository';
import { CARD_FACTS_CLIENT, CardFactsClient } from './card-facts.client';
import { RebuildService } from './rebuild.service';
import { RollupBuilder } from './rollup.builder';

/** The rebuild command's application context: the database and a client to card-service; no transport server, no queue. */
@Module({})
export class RebuildModule {
  static forConfig(cfg: AppConfig, schema: string, migrations: Parameters<typeof dataSourceOptions>[2]): DynamicModule {
    return {
      module: RebuildModule,
      imports: [TypeOrmModule.forRoot(dataSourceOptions(cfg, schema, migrations, 'dashboard-rebuild'))],
      providers: [
        { provide: CONFIG, useValue: cfg },
        {
          provide: CARD_FACTS_CLIENT,
          useFactory: () => new CardFactsClient(new RedisStreamsClient({ service: Service.CARD, redisUrl: cfg.redisUrl, timeoutMs: cfg.rpcTimeoutMs })),
        },
        RollupRepository,
        RollupBuilder,
        RebuildService,
      ],
    };
  }
}
