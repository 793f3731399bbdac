// The dashboard's three reads. When a session becomes known on the dashboard's address (a
// sign-in, or a kept key checked at start), the reads of the default range are sent at
// once, while the page is still mounting the dashboard; the dashboard then takes that
// answer instead of asking again.
import { dashboard, type CardChannelView, type CardTopView, type CardTrendView, type DateRange } from './endpoints';

export type DashboardData = [CardTrendView, CardChannelView, CardTopView];

export function readDashboard(crm: string, range: DateRange, cardId: string): Promise<DashboardData> {
  performance.mark('console:dashboard-asked');
  return Promise.all([dashboard.trend(crm, range, cardId), dashboard.channel(crm, range, cardId), dashboard.top(crm, range, 10)]);
}

/** An early answer older than this is not shown: the dashboard asks again. */
const EARLY_FOR_MS = 10_000;

let early: { crm: string; range: DateRange; at: number; data: Promise<DashboardData> } | null = null;

/** Sends the reads of `range` (all cards) now, for the dashboard about to mount. */
export function askEarly(crm: string, range: DateRange): void {
  const data = readDashboard(crm, range, '');
  data.catch(() => undefined); // the dashboard shows the error when it takes the answer
  early = { crm, range, at: Date.now(), data };
}

/** The early answer if it is recent and for this tenant, range and all cards (once); null otherwise. */
export function takeEarly(crm: string, range: DateRange, cardId: string): Promise<DashboardData> | null {
  const e = early;
  early = null;
  return e && Date.now() - e.at < EARLY_FOR_MS && !cardId && e.crm === crm && e.range.start_date === range.start_date && e.range.end_date === range.end_date
    ? e.data
    : null;
}
