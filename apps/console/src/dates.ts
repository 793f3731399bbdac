import { DateTime } from 'luxon';

/** The default dashboard range: the 30 days ending `today` (the server's today in the tenant's zone), both counted. */
export function last30Days(today: string): { start_date: string; end_date: string } {
  return { start_date: DateTime.fromISO(today).minus({ days: 29 }).toISODate()!, end_date: today };
}

/** `YYYY-MM-DDTHH:mm` of a datetime-local input, read in the tenant's zone, as Unix seconds; undefined when empty. */
export function localToUnix(text: string, zone: string): number | undefined {
  return text ? DateTime.fromISO(text, { zone }).toUnixInteger() : undefined;
}

/** Unix seconds as `YYYY-MM-DD HH:mm:ss` in the tenant's zone. */
export function unixToText(seconds: number | null, zone: string): string {
  return seconds === null ? '' : DateTime.fromSeconds(seconds, { zone }).toFormat('yyyy-MM-dd HH:mm:ss');
}

/** `HH:mm[:ss]` of a time input as seconds from midnight; undefined when empty. */
export function timeToSeconds(text: string): number | undefined {
  if (!text) return undefined;
  const [h, m, s = 0] = text.split(':').map(Number);
  return h * 3600 + m * 60 + s;
}
