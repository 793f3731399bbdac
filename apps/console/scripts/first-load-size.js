// Prints the gzipped size of what the first load of the dashboard fetches: index.html and
// every built asset (the page's script and style, and the ECharts chunk it asks for at
// start): the console's first-load budget is 500 KB gzipped.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const dist = fileURLToPath(new URL('../../../dist/console/', import.meta.url));
const html = readFileSync(`${dist}index.html`, 'utf8');
const BUDGET = 500 * 1024;

const urls = readdirSync(`${dist}assets`)
  .sort()
  .map((f) => `assets/${f}`);
let total = gzipSync(html).length;
console.log(`${String(total).padStart(9)}  index.html`);
for (const url of urls) {
  const size = gzipSync(readFileSync(dist + url)).length;
  total += size;
  console.log(`${String(size).padStart(9)}  ${url}`);
}
console.log(`${String(total).padStart(9)}  bytes gzipped in all (${(total / 1024).toFixed(1)} KB; budget ${BUDGET / 1024} KB)`);
if (total > BUDGET) process.exit(1);
