import { Injectable } from '@nestjs/common';

/** Tells this process's inbox worker (when it runs here, role both) that an event was just written, so it looks at once instead of at its next poll. */
@Injectable()
export class InboxSignal {
  private listener?: () => void;

  listen(fn: () => void): void {
    this.listener = fn;
  }

  wake(): void {
    this.listener?.();
  }
}
