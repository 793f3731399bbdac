import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { DeliveriesMsg, DeliveryIdMsg, ListWebhooksMsg, ReplayMsg, UpdateWebhookMsg, WebhookIdMsg, WebhookMsg, WebhookPattern } from '@app/domain';
import { DeliveryService } from '../delivery/delivery.service';
import { EndpointService } from './endpoint.service';

@Controller()
export class WebhookController {
  constructor(
    private readonly endpoints: EndpointService,
    private readonly deliveries: DeliveryService,
  ) {}

  @MessagePattern(WebhookPattern.CREATE)
  create(@Payload() m: WebhookMsg) {
    return this.endpoints.create(m);
  }

  @MessagePattern(WebhookPattern.LIST)
  list(@Payload() m: ListWebhooksMsg) {
    return this.endpoints.list(m);
  }

  @MessagePattern(WebhookPattern.DETAIL)
  detail(@Payload() m: WebhookIdMsg) {
    return this.endpoints.detail(m);
  }

  @MessagePattern(WebhookPattern.UPDATE)
  update(@Payload() m: UpdateWebhookMsg) {
    return this.endpoints.update(m);
  }

  @MessagePattern(WebhookPattern.DISABLE)
  disable(@Payload() m: WebhookIdMsg) {
    return this.endpoints.disable(m);
  }

  @MessagePattern(WebhookPattern.ENABLE)
  enable(@Payload() m: WebhookIdMsg) {
    return this.endpoints.enable(m);
  }

  @MessagePattern(WebhookPattern.DELETE)
  delete(@Payload() m: WebhookIdMsg) {
    return this.endpoints.delete(m);
  }

  @MessagePattern(WebhookPattern.ROTATE_SECRET)
  rotateSecret(@Payload() m: WebhookIdMsg) {
    return this.endpoints.rotateSecret(m);
  }

  @MessagePattern(WebhookPattern.DELIVERIES)
  listDeliveries(@Payload() m: DeliveriesMsg) {
    return this.deliveries.list(m);
  }

  @MessagePattern(WebhookPattern.RETRY)
  retry(@Payload() m: DeliveryIdMsg) {
    return this.deliveries.retry(m);
  }

  @MessagePattern(WebhookPattern.REPLAY)
  replay(@Payload() m: ReplayMsg) {
    return this.deliveries.replay(m);
  }
}
