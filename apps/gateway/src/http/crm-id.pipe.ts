import { Injectable, PipeTransform } from '@nestjs/common';
import { CRM_ID_PATTERN, invalid } from '@app/domain';
import { EnvelopeException } from './envelope.exception';

@Injectable()
export class CrmIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!CRM_ID_PATTERN.test(value ?? '')) {
      throw new EnvelopeException(invalid([{ field: 'crm_id', message: 'crm_id must be 1-32 letters, digits, _ or -' }]));
    }
    return value;
  }
}
