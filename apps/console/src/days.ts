/**
 * The default dashboard range: the 30 days ending `today` (`YYYY-MM-DD`, the server's today in
 * the tenant's zone), both counted. Plain calendar arithmetic on the date itself (no zone is
 * involved), so the dashboard's first screen does not wait for luxon (dates.ts) to load.
 */
export function last30Days(today: string): { start_date: string; end_date: string } {
  const [y, m, d] = today.split('-').map(Number);
  return { start_date: new Date(Date.UTC(y, m - 1, d - 29)).toISOString().slice(0, 10), end_date: today };
}
