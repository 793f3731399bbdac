import { Controller, Get, Inject, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { DateTime } from 'luxon';
import { ConsoleSession, ConsoleSessionQueryDto, ErrorCode, fail, invalid, ok } from '@app/domain';
import { AppConfig, Clock, CONFIG } from '@app/platform';
import { AnyKey, CallerKey } from '../auth/auth.decorators';
import type { Caller } from '../auth/auth.service';
import { EnvelopeException } from '../http/envelope.exception';

/**
 * The ops console's sign-in (the page itself is static, at /console/): who the key is, and
 * the tenant's today, so the page's default ranges follow the server's clock and the
 * tenant's zone, not the browser's. Admin keys and the root key (naming a crm_id) may sign
 * in; client keys belong to mini-program back ends and are refused.
 */
@ApiTags('console')
@ApiBearerAuth()
@Controller('api/crm/console')
export class ConsoleController {
  constructor(
    @Inject(CONFIG) private readonly cfg: AppConfig,
    private readonly clock: Clock,
  ) {}

  @Get('session')
  @AnyKey()
  @ApiOperation({ summary: "The console's sign-in: the key's scope and tenant, the tenant's zone and today. Root key: ?crm_id= names the tenant." })
  @ApiOkResponse({
    schema: { example: { code: 0, msg: 'ok', data: { scope: 'admin', crm_id: 'instance_id22222222', tz: 'Asia/Shanghai', today: '2022-05-24' } } },
  })
  session(@CallerKey() caller: Caller, @Query() query: ConsoleSessionQueryDto) {
    if (!caller.root && caller.scope === 'client')
      throw new EnvelopeException(
        fail(ErrorCode.FORBIDDEN, 'a client key cannot sign in to the console: client keys are for mini-program back ends; sign in with an admin key'),
      );
    if (!caller.root && query.crm_id !== undefined && query.crm_id !== caller.crm_id)
      throw new EnvelopeException(fail(ErrorCode.FORBIDDEN, `this key does not belong to crm_id ${query.crm_id}`));
    const crmId = caller.root ? query.crm_id : caller.crm_id;
    if (crmId === undefined)
      throw new EnvelopeException(invalid([{ field: 'crm_id', message: 'the root key belongs to no tenant: give the crm_id to act for' }]));
    const session: ConsoleSession = {
      scope: caller.root ? 'root' : caller.scope,
      crm_id: crmId,
      tz: this.cfg.appTz,
      today: DateTime.fromJSDate(this.clock.now(), { zone: this.cfg.appTz }).toISODate()!,
    };
    return ok(session);
  }
}
