import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { AddStockMsg, CardPattern, ImportCodesMsg, StockStatusMsg } from '@app/domain';
import { StockService } from './stock.service';

@Controller()
export class StockController {
  constructor(private readonly stock: StockService) {}

  @MessagePattern(CardPattern.ADD_STOCK)
  add(@Payload() m: AddStockMsg) {
    return this.stock.addStock(m);
  }

  @MessagePattern(CardPattern.STOCK_STATUS)
  status(@Payload() m: StockStatusMsg) {
    return this.stock.status(m);
  }

  @MessagePattern(CardPattern.IMPORT_CODES)
  import(@Payload() m: ImportCodesMsg) {
    return this.stock.importCodes(m);
  }
}
