import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { WebhookIngestDto, WebhookPattern } from '@app/domain';
import { DeliveryService } from './delivery.service';

/** The services' forwarders hand over their outboxes' events here. */
@Controller()
export class IngestController {
  constructor(private readonly deliveries: DeliveryService) {}

  @MessagePattern(WebhookPattern.INGEST)
  ingest(@Payload() m: WebhookIngestDto) {
    return this.deliveries.ingest(m);
  }
}
