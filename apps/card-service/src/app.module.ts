import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { BullModule } from '@nestjs/bull';
import { CardPattern, Queue, Service } from '@app/domain';
import { AppConfig, CONFIG, bullRootOptions, clockProvider, dataSourceOptions, instanceId, pingController, webhookForwarderProviders } from '@app/platform';
import { CARD_MIGRATIONS } from './migrations';
import { CardController } from './card/card.controller';
import { CardRepository } from './card/card.repository';
import { CardService } from './card/card.service';
import { StockController } from './stock/stock.controller';
import { StockProcessor } from './stock/stock.processor';
import { StockQueue } from './stock/stock.queue';
import { StockRepository } from './stock/stock.repository';
import { StockService } from './stock/stock.service';
import { ClaimRepository } from './member/claim.repository';
import { ClaimService } from './member/claim.service';
import { CodeService } from './member/code.service';
import { ExpiryProcessor } from './member/expiry.processor';
import { GiftService } from './member/gift.service';
import { MemberController } from './member/member.controller';
import { CodeRepository } from './member/code.repository';
import { GiftRepository } from './member/gift.repository';
import { RedeemRepository } from './member/redeem.repository';
import { RedeemService } from './member/redeem.service';
import { OutboxRelay } from './outbox/outbox.relay';
import { OutboxMetrics } from './outbox/outbox.metrics';
import { OutboxRepository } from './outbox/outbox.repository';
import { FactsRepository } from './facts/facts.repository';
import { FactsService } from './facts/facts.service';

export const CARD_SCHEMA = 'card';

@Module({})
export class CardServiceModule {
  /** api: message handlers; worker: queue processors; both: all of it. */
  static forRole(cfg: AppConfig): DynamicModule {
    const api = cfg.role !== 'worker';
    const worker = cfg.role !== 'api';
    return {
      module: CardServiceModule,
      imports: [
        TypeOrmModule.forRoot(dataSourceOptions(cfg, CARD_SCHEMA, CARD_MIGRATIONS, 'card-service')),
        BullModule.forRoot(bullRootOptions(cfg)),
        // card-events: only the workers' outbox relay adds to it.
        BullModule.registerQueue({ name: Queue.CARD_STOCK }, { name: Queue.CARD_EXPIRY }, ...(worker ? [{ name: Queue.CARD_EVENTS }] : [])),
      ],
      controllers: api ? [CardController, StockController, MemberController, pingController(Service.CARD, CardPattern.PING)] : [],
      providers: [
        { provide: CONFIG, useValue: cfg },
        clockProvider(cfg, instanceId),
        ClaimRepository,
        ClaimService,
        CodeRepository,
        GiftRepository,
        RedeemRepository,
        GiftService,
        RedeemService,
        CodeService,
        OutboxRepository,
        FactsRepository,
        FactsService,
        CardRepository,
        CardService,
        StockRepository,
        StockService,
        StockQueue,
        ...(worker ? [StockProcessor, ExpiryProcessor, OutboxRelay, OutboxMetrics, ...webhookForwarderProviders('card')] : []),
      ],
    };
  }
}
