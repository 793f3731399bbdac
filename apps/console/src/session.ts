// The signed-in key and tenant. {key, crm_id} live in sessionStorage (gone with the tab);
// the rest (scope, zone, the server's today) is asked again at each start.
import { reactive } from 'vue';
import { useKey, whenUnauthorized } from './api';
import { askEarly } from './dashboard-data';
import { last30Days } from './days';
import * as endpoints from './endpoints';
import type { SessionView } from './endpoints';
import { screen } from './route';

const STORAGE_KEY = 'console.session';

interface Stored {
  key: string;
  crm_id: string;
}

export const session = reactive({
  /** The tenant and the server's view of it; null while signed out. */
  info: null as SessionView | null,
  /** True while a stored key is being checked at start. */
  restoring: false,
});

/** Checks a key (and, for the root key, the tenant it acts for) and keeps it. Throws the API's refusal. */
export async function signIn(key: string, crmId: string): Promise<void> {
  const info = await endpoints.session(key, crmId);
  const stored: Stored = { key, crm_id: info.crm_id };
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(stored));
  useKey(key);
  if (screen.value === 'dashboard') askEarly(info.crm_id, last30Days(info.today));
  session.info = info;
  performance.mark('console:session');
}

export function signOut(): void {
  sessionStorage.removeItem(STORAGE_KEY);
  useKey('');
  session.info = null;
}

/** At start: the key kept by this tab, checked again (a 401 or 403 signs out). */
export async function restore(): Promise<void> {
  const text = sessionStorage.getItem(STORAGE_KEY);
  if (!text) return;
  session.restoring = true;
  try {
    const stored = JSON.parse(text) as Stored;
    await signIn(stored.key, stored.crm_id);
  } catch {
    signOut();
  } finally {
    session.restoring = false;
  }
}

whenUnauthorized(signOut);
