// Hash routing over four screens: #/dashboard, #/cards, #/stock, #/member.
import { ref } from 'vue';

export const SCREENS = ['dashboard', 'cards', 'stock', 'member'] as const;
export type Screen = (typeof SCREENS)[number];

function fromHash(): Screen {
  const name = window.location.hash.replace(/^#\/?/, '');
  return (SCREENS as readonly string[]).includes(name) ? (name as Screen) : 'dashboard';
}

export const screen = ref<Screen>(fromHash());
window.addEventListener('hashchange', () => (screen.value = fromHash()));
