import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import vue from '@vitejs/plugin-vue';

/**
 * index.html names the ECharts chunk (charts.ts) as a module preload: the page imports it
 * lazily, but the browser fetches it beside the page's own script, not after it has run.
 */
function preloadCharts(): Plugin {
  return {
    name: 'console-preload-charts',
    apply: 'build',
    transformIndexHtml(_html, ctx) {
      const chunk = Object.values(ctx.bundle ?? {}).find((c) => c.type === 'chunk' && c.name === 'charts');
      return chunk ? [{ tag: 'link', attrs: { rel: 'modulepreload', crossorigin: true, href: `/console/${chunk.fileName}` }, injectTo: 'head' }] : [];
    },
  };
}

// The ops console: built into dist/console/ and served by the gateway at /console/.
// `vite --config apps/console/vite.config.ts` serves it for development, with /api sent to
// a back end on localhost:3000 (CONSOLE_API to point elsewhere).
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/console/',
  plugins: [vue(), preloadCharts()],
  define: {
    // vue-i18n's esm-bundler build: composition API only, no devtools hooks in production.
    __VUE_I18N_FULL_INSTALL__: true,
    __VUE_I18N_LEGACY_API__: false,
    __INTLIFY_PROD_DEVTOOLS__: false,
  },
  build: {
    outDir: fileURLToPath(new URL('../../dist/console', import.meta.url)),
    emptyOutDir: true,
    // The ECharts chunk is about 570 kB: the budget that matters is what the first load
    // fetches gzipped, under 500 kB (node apps/console/scripts/first-load-size.js).
    chunkSizeWarningLimit: 1000,
  },
  server: { proxy: { '/api': process.env.CONSOLE_API ?? 'http://localhost:3000' } },
  preview: { proxy: { '/api': process.env.CONSOLE_API ?? 'http://localhost:3000' } },
});
