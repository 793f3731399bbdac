import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { FastifyRequest } from 'fastify';
import { ErrorCode, fail, invalid } from '@app/domain';
import { EnvelopeException } from '../http/envelope.exception';
import { ACCESS, Access, CALLER, CALLER_KEY, CallerTag, KEY_CRM_ID } from './auth.decorators';
import type { Caller } from './auth.service';
import { AuthService, keyId } from './auth.service';

const deny = (code: ErrorCode, msg: string) => new EnvelopeException(fail(code, msg));

/**
 * `Authorization: Bearer <key>`. The root key acts for every tenant; a tenant key only
 * for its own crm_id, and a `client` key only on routes marked for it. Runs before any
 * input is read, so a refused key learns nothing about the data.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const access = this.reflector.getAllAndOverride<Access>(ACCESS, [ctx.getHandler(), ctx.getClass()]) ?? 'admin';
    if (access === 'public') return true;
    const req = ctx.switchToHttp().getRequest<FastifyRequest<{ Params: { crm_id?: string } }>>();
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw deny(ErrorCode.UNAUTHORIZED, 'Authorization: Bearer <key> is required');
    const caller = await this.auth.identify(match[1]);
    if (!caller) throw deny(ErrorCode.UNAUTHORIZED, 'unknown API key');
    (req as unknown as Record<symbol, CallerTag>)[CALLER] = caller.root ? { key_id: 'root' } : { key_id: keyId(match[1]), crm_id: caller.crm_id };
    (req as unknown as Record<symbol, Caller>)[CALLER_KEY] = caller;
    if (access === 'any-key') return true;
    if (access === 'key-tenant') {
      if (caller.root) {
        throw new EnvelopeException(
          invalid([
            { field: 'crm_id', message: 'the root key belongs to no tenant: name one in the path (/api/crm/points/<crm_id>/...) or call with a tenant key' },
          ]),
        );
      }
      (req as unknown as Record<symbol, string>)[KEY_CRM_ID] = caller.crm_id;
      return true;
    }
    if (caller.root) return true;
    if (access === 'root') throw deny(ErrorCode.FORBIDDEN, 'only the root key may do this');
    if (req.params.crm_id !== caller.crm_id) throw deny(ErrorCode.FORBIDDEN, `this key does not belong to crm_id ${req.params.crm_id}`);
    if (caller.scope === 'client' && access !== 'client')
      throw deny(ErrorCode.FORBIDDEN, `a client key may not call ${req.routeOptions.url ?? req.url}: admin keys only`);
    return true;
  }
}
