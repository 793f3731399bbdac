// Prints the gzipped size of what dist/console/index.html loads (its scripts, module
// preloads and style sheets): the console's first-load budget is 500 KB gzipped.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const dist = fileURLToPath(new URL('../../../dist/console/', import.meta.url));
const html = readFileSync(`${dist}index.html`, 'utf8');
const BUDGET = 500 * 1024;

const urls = [...html.matchAll(/<(?:script[^>]*\ssrc|link[^>]*\shref)="\/console\/([^"]+)"/g)].map((m) => m[1]);
let total = gzipSync(html).length;
console.log(`${String(total).padStart(9)}  index.html`);
for (const url of urls) {
  const size = gzipSync(readFileSync(dist + url)).length;
  total += size;
  console.log(`${String(size).padStart(9)}  ${url}`);
}
console.log(`${String(total).padStart(9)}  bytes gzipped in all (${(total / 1024).toFixed(1)} KB; budget ${BUDGET / 1024} KB)`);
if (total > BUDGET) process.exit(1);
