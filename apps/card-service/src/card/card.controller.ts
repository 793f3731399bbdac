import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { CardIdMsg, CardPattern, CreateCardMsg, ListCardsMsg } from '@app/domain';
import { CardService } from './card.service';

@Controller()
export class CardController {
  constructor(private readonly cards: CardService) {}

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
}
