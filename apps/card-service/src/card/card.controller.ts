import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { CardFactsRequest, CardIdMsg, CardPattern, CreateCardMsg, ListCardsMsg } from '@app/domain';
import { CardService } from './card.service';
import { FactsService } from '../facts/facts.service';

@Controller()
export class CardController {
  constructor(
    private readonly cards: CardService,
    private readonly facts: FactsService,
  ) {}

  @MessagePattern(CardPattern.CREATE)
  create(@Payload() m: CreateCardMsg) {
    return this.cards.create(m);
  }

  @MessagePattern(CardPattern.DETAIL)
  detail(@Payload() m: CardIdMsg) {
    return this.cards.detail(m);
  }

  @MessagePattern(CardPattern.LIST)
  list(@Payload() m: ListCardsMsg) {
    return this.cards.list(m);
  }

  @MessagePattern(CardPattern.REMOVE)
  remove(@Payload() m: CardIdMsg) {
    return this.cards.remove(m);
  }

  /** Internal (the dashboard's rebuild); the gateway does not expose it. */
  @MessagePattern(CardPattern.EVENT_FACTS)
  eventFacts(@Payload() m: CardFactsRequest) {
    return this.facts.page(m);
  }
}
