import { existsSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import { FastifyInstance } from 'fastify';

/** Where `npm run build` puts the console (dist/console), beside this bundle's dist/apps/gateway. */
export const CONSOLE_DIR = path.resolve(__dirname, '..', '..', 'console');

/** The page may load only what it was built with: no CDN, no inline script, no framing. */
const PAGE_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/**
 * The ops console at /console/: the files `vite build` wrote, with the page's security
 * headers; hashed assets are cached for a year, index.html never (a new build is seen at
 * once); any other /console/ path is the page itself (its router reads the address). The
 * page holds no data: it calls the API with the key the user signs in with.
 */
export async function registerConsole(fastify: FastifyInstance, dir = CONSOLE_DIR): Promise<void> {
  const built = existsSync(path.join(dir, 'index.html'));
  await fastify.register(
    async (scope) => {
      // The page's router and its relative paths want the trailing slash: /console is sent to /console/.
      scope.addHook('onRequest', async (req, reply) => {
        if (req.url === '/console' || req.url.startsWith('/console?')) return reply.redirect(`/console/${req.url.slice('/console'.length)}`, 301);
      });
      scope.addHook('onSend', async (_req, reply, payload) => {
        for (const [name, value] of Object.entries(PAGE_HEADERS)) reply.header(name, value);
        return payload;
      });
      if (!built) {
        scope.get('/*', async (_req, reply) =>
          reply.code(404).type('text/plain; charset=utf-8').send('The console is not built: run `npm run build` (it writes dist/console).'),
        );
        return;
      }
      await scope.register(fastifyStatic, {
        root: dir,
        wildcard: false,
        cacheControl: false, // setHeaders says it: a year for hashed assets, no-cache for the page
        index: ['index.html'],
        setHeaders: (res, file) => {
          res.setHeader('cache-control', /[\\/]assets[\\/]/.test(file) ? 'public, max-age=31536000, immutable' : 'no-cache');
        },
      });
      scope.setNotFoundHandler(async (req, reply) => {
        if (/\/assets\//.test(req.url)) return reply.code(404).type('text/plain; charset=utf-8').send('not found');
        reply.header('cache-control', 'no-cache');
        return reply.sendFile('index.html');
      });
    },
    { prefix: '/console' },
  );
}
