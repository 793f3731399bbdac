import { Body, Controller, Get, Inject, Param, Post, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  AddStockDto,
  CardIdQueryDto,
  CardPattern,
  CreateCardDto,
  ImportCodesDto,
  ListCardsQueryDto,
  newCardId,
  newGenerateId,
  RemoveCardDto,
  StockStatusQueryDto,
} from '@app/domain';
import { CrmIdPipe } from '../http/crm-id.pipe';
import { CARD_CLIENT, ServiceClient } from '../rpc/service-client';
import { CardExamples } from './card.examples';

/** Coupon templates and their stock: each route forwards to card-service. */
@ApiTags('cards')
@ApiBearerAuth()
@ApiBadRequestResponse({ description: 'Invalid input; the failing fields are named', ...CardExamples.validation })
@Controller('api/crm/card/:crm_id')
export class CardController {
  constructor(@Inject(CARD_CLIENT) private readonly card: ServiceClient) {}

  @Post('create')
  @ApiOperation({ summary: 'Create a card template; its stock is generated in the background' })
  @ApiOkResponse(CardExamples.create)
  create(@Param('crm_id', CrmIdPipe) crmId: string, @Body() body: CreateCardDto) {
    return this.card.call(CardPattern.CREATE, { ...body, crm_id: crmId, card_id: newCardId() });
  }

  @Get('detail')
  @ApiOperation({ summary: 'One card with live generate_info and receive_info' })
  @ApiOkResponse(CardExamples.detail)
  detail(@Param('crm_id', CrmIdPipe) crmId: string, @Query() query: CardIdQueryDto) {
    return this.card.call(CardPattern.DETAIL, { ...query, crm_id: crmId });
  }

  @Get('list')
  @ApiOperation({ summary: 'Cards of the tenant, newest first, without removed ones' })
  @ApiOkResponse(CardExamples.list)
  list(@Param('crm_id', CrmIdPipe) crmId: string, @Query() query: ListCardsQueryDto) {
    return this.card.call(CardPattern.LIST, { ...query, crm_id: crmId });
  }

  @Post('remove')
  @ApiOperation({ summary: 'Remove a card (soft: it stays readable by id and takes no more claims)' })
  @ApiOkResponse(CardExamples.remove)
  remove(@Param('crm_id', CrmIdPipe) crmId: string, @Body() body: RemoveCardDto) {
    return this.card.call(CardPattern.REMOVE, { ...body, crm_id: crmId });
  }

  @Post('add/stock')
  @ApiOperation({
    summary:
      'Add stock to a card: system codes (generate_type 1), or for imported codes (generate_type 2) a generate_file of up to quantity codes; idempotent by generate_id',
  })
  @ApiOkResponse(CardExamples.addStock)
  addStock(@Param('crm_id', CrmIdPipe) crmId: string, @Body() body: AddStockDto) {
    return this.card.call(CardPattern.ADD_STOCK, { ...body, generate_id: body.generate_id ?? newGenerateId(), crm_id: crmId });
  }

  @Get('stock/status')
  @ApiOperation({ summary: 'Progress of a stock job: generated, rejected and why' })
  @ApiOkResponse(CardExamples.stockStatus)
  stockStatus(@Param('crm_id', CrmIdPipe) crmId: string, @Query() query: StockStatusQueryDto) {
    return this.card.call(CardPattern.STOCK_STATUS, { ...query, crm_id: crmId });
  }

  @Post('import_codes')
  @ApiOperation({ summary: 'Import up to 10,000 codes into a card (generate_type 2); idempotent by generate_id' })
  @ApiOkResponse(CardExamples.importCodes)
  importCodes(@Param('crm_id', CrmIdPipe) crmId: string, @Body() body: ImportCodesDto) {
    return this.card.call(CardPattern.IMPORT_CODES, { ...body, crm_id: crmId });
  }
}
