import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { BullModule } from '@nestjs/bull';
import { PointsPattern, Queue, Service } from '@app/domain';
import { AppConfig, CONFIG, bullRootOptions, clockProvider, dataSourceOptions, instanceId, pingController, webhookForwarderProviders } from '@app/platform';
import { PointsSchema1732400000000 } from './migrations/1732400000000-points-schema';
import { LedgerSchema1732600000000 } from './migrations/1732600000000-ledger-schema';
import { EventTransType1733100000000 } from './migrations/1733100000000-event-trans-type';
import { PointsInbox1733200000000 } from './migrations/1733200000000-points-inbox';
import { PointsWebhookOutbox1733300000000 } from './migrations/1733300000000-webhook-outbox';
import { LedgerController } from './ledger/ledger.controller';
import { LedgerRepository } from './ledger/ledger.repository';
import { EarnSpendService } from './ledger/earn-spend.service';
import { EventRecorder } from './ledger/event-recorder';
import { JournalRepository } from './ledger/journal.repository';
import { JournalService } from './ledger/journal.service';
import { ReversalRepository } from './ledger/reversal.repository';
import { ReversalService } from './ledger/reversal.service';
import { TransferRepository } from './ledger/transfer.repository';
import { TransferService } from './ledger/transfer.service';
import { EventBatchRepository } from './ledger/event-batch.repository';
import { EventBatchService } from './ledger/event-batch.service';
import { PointsExpiryProcessor } from './ledger/points-expiry.processor';
import { InboxController } from './inbox/inbox.controller';
import { InboxMetrics } from './inbox/inbox.metrics';
import { InboxRepository } from './inbox/inbox.repository';
import { InboxRoutes } from './inbox/inbox.routes';
import { InboxService } from './inbox/inbox.service';
import { InboxSignal } from './inbox/inbox.signal';
import { InboxWorker } from './inbox/inbox.worker';
import { RuleController } from './rules/rule.controller';
import { RuleRepository } from './rules/rule.repository';
import { RuleService } from './rules/rule.service';

export const POINTS_SCHEMA = 'points';
export const POINTS_MIGRATIONS = [
  PointsSchema1732400000000,
  LedgerSchema1732600000000,
  EventTransType1733100000000,
  PointsInbox1733200000000,
  PointsWebhookOutbox1733300000000,
];

@Module({})
export class PointsServiceModule {
  static forRole(cfg: AppConfig): DynamicModule {
    return {
      module: PointsServiceModule,
      imports: [
        TypeOrmModule.forRoot(dataSourceOptions(cfg, POINTS_SCHEMA, POINTS_MIGRATIONS, 'points-service')),
        BullModule.forRoot(bullRootOptions(cfg)),
        BullModule.registerQueue({ name: Queue.POINTS_EXPIRY }),
      ],
      controllers: cfg.role !== 'worker' ? [LedgerController, InboxController, RuleController, pingController(Service.POINTS, PointsPattern.PING)] : [],
      providers: [
        { provide: CONFIG, useValue: cfg },
        clockProvider(cfg, instanceId),
        LedgerRepository,
        JournalRepository,
        ReversalRepository,
        TransferRepository,
        EventRecorder,
        EarnSpendService,
        ReversalService,
        TransferService,
        JournalService,
        EventBatchRepository,
        EventBatchService,
        RuleRepository,
        RuleService,
        InboxRepository,
        InboxRoutes,
        InboxService,
        InboxSignal,
        ...(cfg.role !== 'api' ? [PointsExpiryProcessor, InboxWorker, InboxMetrics, ...webhookForwarderProviders('points')] : []),
      ],
    };
  }
}
