import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { PointsEnqueueMsg, PointsPattern } from '@app/domain';
import { InboxService } from './inbox.service';

@Controller()
export class InboxController {
  constructor(private readonly inbox: InboxService) {}

  @MessagePattern(PointsPattern.ENQUEUE)
  enqueue(@Payload() m: PointsEnqueueMsg) {
    return this.inbox.enqueue(m);
  }
}
