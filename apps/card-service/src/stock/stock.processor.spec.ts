import { Logger } from '@nestjs/common';
import { Job } from 'bull';
import { CardStockJob, CardStockPayload } from '@app/domain';
import { StockProcessor } from './stock.processor';
import { ImportOvertakenError, StockService } from './stock.service';

describe('StockProcessor.failed', () => {
  const markFailed = jest.fn<Promise<void>, [string, string, string]>();
  const processor = new StockProcessor({ markFailed } as unknown as StockService, {} as never, {} as never);
  const job = (attemptsMade: number, name: string = CardStockJob.GENERATE) =>
    ({ id: 'crm.g1', name, attemptsMade, opts: { attempts: 8 }, data: { crm_id: 'crm', generate_id: 'g1' } }) as Job<CardStockPayload>;
  let errors: jest.SpyInstance;

  beforeEach(() => {
    markFailed.mockReset().mockResolvedValue(undefined);
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    errors = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());

  it('marks the record failed after the last attempt only', async () => {
    await processor.failed(job(7), new Error('HTTP 503'));
    expect(markFailed).not.toHaveBeenCalled();
    await processor.failed(job(8), new Error('HTTP 503'));
    expect(markFailed).toHaveBeenCalledWith('crm', 'g1', 'HTTP 503');
  });

  it('does not reject when marking fails (a rejected listener would crash the worker), and logs it', async () => {
    markFailed.mockRejectedValue(new Error('connect ECONNREFUSED 127.0.0.1:5432'));
    await expect(processor.failed(job(8), new Error('HTTP 503'))).resolves.toBeUndefined();
    expect(markFailed).toHaveBeenCalledTimes(1);
    expect(errors).toHaveBeenCalledWith(expect.stringMatching(/could not mark it failed .*ECONNREFUSED/));
  });

  it('does not fail a record another worker is filling', async () => {
    await processor.failed(job(8), new ImportOvertakenError('another worker imported lines meanwhile'));
    expect(markFailed).not.toHaveBeenCalled();
  });

  it('leaves other jobs alone', async () => {
    await processor.failed(job(8, CardStockJob.RECOVER), new Error('x'));
    expect(markFailed).not.toHaveBeenCalled();
  });
});
