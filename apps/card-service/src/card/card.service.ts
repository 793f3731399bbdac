import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import {
  CardIdMsg,
  CardView,
  CreateCardMsg,
  Envelope,
  ErrorCode,
  fail,
  GenerateType,
  ListCardsMsg,
  newCardId,
  ok,
  payloadHash,
  WebhookEventType,
} from '@app/domain';
import { AppConfig, Clock, CONFIG, writeWebhookEvents } from '@app/platform';
import { CardRepository } from './card.repository';
import { StockService } from '../stock/stock.service';
import { StockQueue } from '../stock/stock.queue';

/** The stock job a new card starts with. */
export const initialGenerateId = (cardId: string) => `init-${cardId}`;

@Injectable()
export class CardService {
  constructor(
    private readonly db: DataSource,
    private readonly cards: CardRepository,
    private readonly stock: StockService,
    private readonly queue: StockQueue,
    private readonly clock: Clock,
    @Inject(CONFIG) private readonly cfg: AppConfig,
  ) {}

  /**
   * Creates the template and, in the same transaction, the job that fills its stock. A
   * create delivered again (same card_id) answers the card the first one made.
   */
  async create(m: CreateCardMsg): Promise<Envelope<CardView>> {
    const { crm_id, card_id, ...card } = m;
    const cardId = card_id ?? newCardId();
    const generateId = initialGenerateId(cardId);
    const wantsStock = card.total_quantity > 0;
    await this.db.transaction(async (em) => {
      const created = await this.cards.insert(em, crm_id, cardId, { ...card, total_quantity: 0 });
      if (created) {
        await writeWebhookEvents(em, 'card', [
          {
            crm_id,
            type: WebhookEventType.CARD_CREATED,
            member_no: null,
            occurred_at: this.clock.now(),
            data: {
              card_id: cardId,
              title: card.title,
              card_type: card.card_type,
              date_type: card.date_type,
              begin_time: card.begin_time ?? null,
              end_time: card.end_time ?? null,
              total_quantity: card.total_quantity,
              generate_type: card.generate_type,
              generate_id: wantsStock ? generateId : null,
            },
          },
        ]);
      }
      if (created && wantsStock) {
        const fromFile = card.generate_type === GenerateType.IMPORT;
        await this.stock.schedule(em, {
          crm_id,
          card_id: cardId,
          generate_id: generateId,
          generate_type: card.generate_type,
          card_num: card.total_quantity,
          source_file: fromFile ? (card.generate_file ?? null) : null,
          payload_hash: payloadHash({ op: 'create', card_id: cardId }),
        });
      }
    });
    if (wantsStock) await this.queue.enqueue({ crm_id, generate_id: generateId });
    return ok((await this.cards.find(crm_id, cardId, this.cfg.appTz))!, '创建卡券成功');
  }

  async detail(m: CardIdMsg): Promise<Envelope<CardView>> {
    const card = await this.cards.find(m.crm_id, m.card_id, this.cfg.appTz);
    return card ? ok(card, '获取卡券详情成功') : fail(ErrorCode.CARD_NOT_FOUND, `card ${m.card_id} not found`);
  }

  async list(m: ListCardsMsg): Promise<Envelope<{ total: number; results: CardView[] }>> {
    const { crm_id, ...query } = m;
    return ok(await this.cards.list(crm_id, query, this.cfg.appTz), '获取卡券信息成功');
  }

  /** Soft removal: the card stays readable by id, leaves the list, and takes no more stock or claims. Repeating it is harmless. */
  async remove(m: CardIdMsg): Promise<Envelope<undefined>> {
    const found = await this.cards.markRemoved(m.crm_id, m.card_id);
    return found ? ok(undefined, '删除卡券成功') : fail(ErrorCode.CARD_NOT_FOUND, `card ${m.card_id} not found`);
  }
}
