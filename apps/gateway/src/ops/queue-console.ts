import { createBullBoard } from '@bull-board/api';
import { BullAdapter } from '@bull-board/api/bullAdapter';
import { FastifyAdapter as BoardAdapter } from '@bull-board/fastify';
import Bull from 'bull';
import { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode, fail, httpStatusOf, Queue } from '@app/domain';
import { AppConfig, bullRootOptions } from '@app/platform';
import { AuthService } from '../auth/auth.service';

export const QUEUE_CONSOLE_PATH = '/admin/queues';

/**
 * The queue console (bull-board) at /admin/queues: every Bull queue of the suite, its jobs,
 * failed jobs with their error, retry and remove. Root key only: `Authorization: Bearer
 * <root key>`, or in a browser Basic auth with any user name and the root key as password.
 * A tenant key is 403 (it would see other tenants' jobs); no key is 401 with a Basic challenge.
 */
export async function registerQueueConsole(fastify: FastifyInstance, cfg: AppConfig, auth: AuthService): Promise<Bull.Queue[]> {
  const opts = bullRootOptions(cfg);
  const queues = Object.values(Queue).map((name) => new Bull(name, { prefix: opts.prefix, createClient: opts.createClient }));
  const board = new BoardAdapter();
  createBullBoard({ queues: queues.map((q) => new BullAdapter(q)), serverAdapter: board });
  board.setBasePath(QUEUE_CONSOLE_PATH);
  await fastify.register(
    async (scope) => {
      scope.addHook('onRequest', async (req, reply) => {
        const denied = await refusal(req, auth);
        if (denied) {
          if (denied.code === ErrorCode.UNAUTHORIZED) void reply.header('www-authenticate', 'Basic realm="loyalty queues", charset="UTF-8"');
          return send(reply, denied);
        }
      });
      await scope.register(board.registerPlugin());
    },
    { prefix: QUEUE_CONSOLE_PATH },
  );
  return queues;
}

async function refusal(req: FastifyRequest, auth: AuthService) {
  const header = req.headers.authorization ?? '';
  const bearer = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
  const basic = /^Basic\s+(\S+)$/i.exec(header)?.[1];
  const key = bearer ?? (basic ? Buffer.from(basic, 'base64').toString('utf8').split(':').slice(1).join(':') : undefined);
  if (!key) return fail(ErrorCode.UNAUTHORIZED, 'the queue console needs the root key (Bearer, or Basic with the key as password)');
  const caller = await auth.identify(key);
  if (!caller) return fail(ErrorCode.UNAUTHORIZED, 'unknown API key');
  if (!caller.root) return fail(ErrorCode.FORBIDDEN, 'only the root key may open the queue console');
  return null;
}

function send(reply: FastifyReply, envelope: ReturnType<typeof fail>) {
  return reply.status(httpStatusOf(envelope.code)).header('content-type', 'application/json').send(envelope);
}
