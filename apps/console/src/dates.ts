// Times in the tenant's zone, for the forms and lists (luxon: loaded with the screens that use it).
import { DateTime } from 'luxon';

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
