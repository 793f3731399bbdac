import { Body, Controller, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { IssueKeyDto, ok } from '@app/domain';
import { CrmIdPipe } from '../http/crm-id.pipe';
import { RootOnly } from './auth.decorators';
import { AuthService } from './auth.service';

@ApiTags('keys')
@ApiBearerAuth()
@Controller('api/crm/keys')
export class KeysController {
  constructor(private readonly auth: AuthService) {}

  @Post(':crm_id')
  @RootOnly()
  @ApiOperation({ summary: 'Issue a tenant key (root key only). The key is shown once and stored hashed.' })
  @ApiOkResponse({ schema: { example: { code: 0, msg: 'ok', data: { key: 'lk_3q2-7wEJ…', scope: 'admin', crm_id: 'instance_id22222222' } } } })
  async issue(@Param('crm_id', CrmIdPipe) crmId: string, @Body() body: IssueKeyDto) {
    return ok(await this.auth.issue(crmId, body.scope));
  }
}
