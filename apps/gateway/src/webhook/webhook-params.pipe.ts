import { Injectable, PipeTransform } from '@nestjs/common';
import { invalid, WEBHOOK_ID_PATTERN } from '@app/domain';
import { EnvelopeException } from '../http/envelope.exception';

/** The webhook_id of the path: wh_ and letters or digits, else 400 naming it. */
@Injectable()
export class WebhookParamPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!WEBHOOK_ID_PATTERN.test(value ?? '')) {
      throw new EnvelopeException(invalid([{ field: 'webhook_id', message: 'webhook_id must be wh_ and letters or digits' }]));
    }
    return value;
  }
}

/** The delivery_id of the path: a positive whole number, else 400 naming it. */
@Injectable()
export class DeliveryParamPipe implements PipeTransform<string, number> {
  transform(value: string): number {
    const n = /^\d{1,15}$/.test(value ?? '') ? Number(value) : NaN;
    if (!(n >= 1)) throw new EnvelopeException(invalid([{ field: 'delivery_id', message: 'delivery_id must be a positive whole number' }]));
    return n;
  }
}
