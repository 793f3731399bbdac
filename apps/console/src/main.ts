import { createApp } from 'vue';
import App from './App.vue';
import { i18n } from './i18n';
import { loadCharts } from './lazy-charts';
import { restore } from './session';
import './style.css';

// The stored key is checked and ECharts fetched at once, both before the first paint.
void restore();
void loadCharts();
createApp(App).use(i18n).mount('#app');
