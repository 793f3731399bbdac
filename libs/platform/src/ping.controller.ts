import { Controller, Type } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { DataSource } from 'typeorm';
import { ok, PingReply, ServiceName } from '@app/domain';
import { instanceId } from './instance';

/** The ping every service answers: its name, this instance, and whether its database answers. */
export function pingController(service: ServiceName, pattern: string): Type<unknown> {
  @Controller()
  class PingController {
    constructor(private readonly db: DataSource) {}

    @MessagePattern(pattern)
    async ping() {
      const database = await this.db.query('SELECT 1').then(
        () => 'up' as const,
        () => 'down' as const,
      );
      return ok<PingReply>({ service, instance: instanceId, database });
    }
  }
  return PingController;
}
