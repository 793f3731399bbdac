import { Envelope, httpStatusOf } from '@app/domain';

/** Ends a request with an envelope (invalid input, refused key); the filter writes it out. */
export class EnvelopeException extends Error {
  constructor(readonly envelope: Envelope<never>) {
    super(envelope.msg);
  }

  get status(): number {
    return httpStatusOf(this.envelope.code);
  }
}
