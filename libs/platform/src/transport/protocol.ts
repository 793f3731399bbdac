/**
 * Requests travel on one Redis stream per service, read through a consumer group, so
 * each request goes to exactly one instance; replies go back on the caller's own
 * pub/sub channel (a caller that is gone needs no answer).
 */
export const streamKey = (service: string) => `loyalty:rpc:${service}`;
export const groupName = (service: string) => `${service}-service`;
export const replyChannel = (clientId: string) => `loyalty:rpc:reply:${clientId}`;

export interface RequestPacket {
  id: string;
  pattern: string;
  data: unknown;
  /** Channel of the caller, where the answer goes. */
  reply: string;
  /** Unix ms after which nobody waits for the answer any more. */
  deadline: number;
  /** The id of the HTTP request this one serves (x-request-id), for the service's log lines. */
  rid?: string;
}

export interface ReplyPacket {
  id: string;
  response?: unknown;
  err?: unknown;
}

/** Field name of the packet in a stream entry. */
export const PACKET_FIELD = 'p';
