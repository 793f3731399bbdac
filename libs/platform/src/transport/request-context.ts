import { BaseRpcContext } from '@nestjs/microservices';

/**
 * The context of a request taken from a stream (`@Ctx()` in a message handler): its
 * deadline, for handlers that queue work. Past it the caller has given up, and work not
 * begun yet should not be done.
 */
export class StreamContext extends BaseRpcContext<[deadline: number]> {
  /** Unix ms. */
  get deadline(): number {
    return this.args[0];
  }
}
