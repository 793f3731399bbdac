import { CardSchema1732400000000 } from './1732400000000-card-schema';
import { MemberSchema1732500000000 } from './1732500000000-member-schema';
import { CardOutbox1732700000000 } from './1732700000000-card-outbox';
import { OutboxRelayed1733200000000 } from './1733200000000-outbox-relayed';
import { WebhookOutbox1733300000000 } from './1733300000000-webhook-outbox';

export const CARD_MIGRATIONS = [
  CardSchema1732400000000,
  MemberSchema1732500000000,
  CardOutbox1732700000000,
  OutboxRelayed1733200000000,
  WebhookOutbox1733300000000,
];
