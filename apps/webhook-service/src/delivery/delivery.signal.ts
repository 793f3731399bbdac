import { Injectable } from '@nestjs/common';

/** Tells this process's delivery worker (when it runs here, role both) that deliveries were just made due, so it looks at once instead of at its next poll. */
@Injectable()
export class DeliverySignal {
  private listener?: () => void;

  listen(fn: () => void): void {
    this.listener = fn;
  }

  wake(): void {
    this.listener?.();
  }
}
