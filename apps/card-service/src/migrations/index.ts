import { CardSchema1732400000000 } from './1732400000000-card-schema';

export const CARD_MIGRATIONS = [CardSchema1732400000000];
