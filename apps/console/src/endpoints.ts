// The routes the console uses, typed with the API's own answer shapes from libs/domain
// (type-only imports: nothing of the back end is bundled).
import type { CardView, GenerateView, StockStatusView } from '../../../libs/domain/src/card/card.view';
import type { MemberCodeView } from '../../../libs/domain/src/card/member.view';
import type { CardChannelView, CardTopView, CardTrendView } from '../../../libs/domain/src/dashboard/dashboard.view';
import type { PointsEventView, PointsSummaryView } from '../../../libs/domain/src/points/points.view';
import { call } from './api';

export type { CardView, StockStatusView, MemberCodeView, CardChannelView, CardTopView, CardTrendView, PointsEventView, PointsSummaryView };

export interface SessionView {
  scope: 'admin' | 'root';
  crm_id: string;
  tz: string;
  /** Today in the tenant's zone by the server's clock, `YYYY-MM-DD`. */
  today: string;
}

export interface DateRange {
  start_date: string;
  end_date: string;
}

export interface CardFilters {
  card_type?: number;
  source?: number;
  scene?: string;
}

const seg = encodeURIComponent;

export const session = (key: string, crmId: string) => call<SessionView>('GET', '/api/crm/console/session', { key, query: { crm_id: crmId } });

export const dashboard = {
  trend: (crm: string, range: DateRange, cardId: string) =>
    call<CardTrendView>('GET', `/api/crm/dashboard/${seg(crm)}/card_trend`, { query: { ...range, card_id: cardId } }),
  channel: (crm: string, range: DateRange, cardId: string) =>
    call<CardChannelView>('GET', `/api/crm/dashboard/${seg(crm)}/card_channel`, { query: { ...range, card_id: cardId } }),
  top: (crm: string, range: DateRange, limit: number) => call<CardTopView>('GET', `/api/crm/dashboard/${seg(crm)}/card_top`, { query: { ...range, limit } }),
};

export const cards = {
  list: (crm: string, page: number, pageSize: number, filters: CardFilters = {}) =>
    call<{ total: number; results: CardView[] }>('GET', `/api/crm/card/${seg(crm)}/list`, { query: { page_id: page, page_size: pageSize, ...filters } }),
  detail: (crm: string, cardId: string) => call<CardView>('GET', `/api/crm/card/${seg(crm)}/detail`, { query: { card_id: cardId } }),
  create: (crm: string, body: Record<string, unknown>) => call<CardView>('POST', `/api/crm/card/${seg(crm)}/create`, { body }),
  remove: (crm: string, cardId: string) => call<unknown>('POST', `/api/crm/card/${seg(crm)}/remove`, { body: { card_id: cardId } }),
  addStock: (crm: string, body: { card_id: string; quantity: number; generate_id: string; generate_file?: string }) =>
    call<GenerateView>('POST', `/api/crm/card/${seg(crm)}/add/stock`, { body }),
  importCodes: (crm: string, body: { card_id: string; generate_id: string; codes: string[] }) =>
    call<StockStatusView>('POST', `/api/crm/card/${seg(crm)}/import_codes`, { body }),
  stockStatus: (crm: string, generateId: string) =>
    call<StockStatusView>('GET', `/api/crm/card/${seg(crm)}/stock/status`, { query: { generate_id: generateId } }),
};

/** Every card of the tenant (the list route pages by at most 100). */
export async function allCards(crm: string): Promise<CardView[]> {
  const out: CardView[] = [];
  for (let page = 1; ; page++) {
    const { total, results } = await cards.list(crm, page, 100);
    out.push(...results);
    if (!results.length || out.length >= total) return out;
  }
}

export const member = {
  codes: (crm: string, memberNo: string, page: number, pageSize: number, codeStatus?: number) =>
    call<{ total: number; result: MemberCodeView[] }>('GET', `/api/crm/card/${seg(crm)}/member/card_list`, {
      query: { member_no: memberNo, page_id: page, page_size: pageSize, code_status: codeStatus },
    }),
  pointsSummary: (crm: string, memberNo: string) => call<PointsSummaryView>('GET', `/api/crm/points/${seg(crm)}/summary`, { query: { member_no: memberNo } }),
  pointsHistory: (crm: string, memberNo: string, page: number, pageSize: number) =>
    call<{ total: number; items: PointsEventView[] }>('POST', `/api/crm/points/${seg(crm)}/history`, {
      body: { member_no: memberNo, page_id: page, page_size: pageSize },
    }),
};
