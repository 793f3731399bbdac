import { ApiError } from './api';
import { i18n } from './i18n';

/** What to tell the user about a failed call: the API's own msg, or "busy, retry" for a 503. */
export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.busy ? `${i18n.global.t('common.busy')} (${e.message})` : e.message;
  return e instanceof Error ? e.message : String(e);
}

/** The API's messages by the field they name (a 400's `errors`). */
export function fieldErrors(e: unknown): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  if (e instanceof ApiError) for (const v of e.errors) (out[v.field] ??= []).push(v.message);
  return out;
}
