import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { randomBytes } from 'node:crypto';
import {
  addRejects,
  AddStockMsg,
  codeFromLine,
  Envelope,
  ErrorCode,
  fail,
  GenerateStatus,
  GenerateType,
  ImportCodesMsg,
  mergeRejects,
  newGenerateId,
  numericCodes,
  ok,
  payloadHash,
  RejectReason,
  screenCodes,
  StockStatusMsg,
  StockStatusView,
  GenerateView,
  totalRejected,
} from '@app/domain';
import { AppConfig, Clock, CONFIG, idConflict, isUniqueViolation } from '@app/platform';
import { BatchOutcome, GenerateRecord, NewGenerate, StockRepository, originalGenerateView } from './stock.repository';
import { StockQueue } from './stock.queue';
import { CodeFileRefusedError, linesFromUrl } from './code-file';

/*
 * Over 300 lines on purpose: one use case, filling a card's stock (add_stock, import_codes,
 * the job that generates or imports, its status), whose steps share the generate record's
 * life cycle; the file reading is in code-file.ts and the SQL in stock.repository.ts.
 */

const IMPORT_BATCH = 5_000;
const MAX_COLLISION_RETRIES = 5;
/** Unfinished records the recovery sweep reads per query. */
const RECOVER_PAGE = 1_000;

/**
 * Another worker has imported lines of this file since this one read its starting point
 * (a job Bull took for stalled while its worker lived on): this attempt stops, so no line
 * is counted twice.
 */
export class ImportOvertakenError extends Error {}

/**
 * Why a card takes no new stock this way (unknown, removed, the other generate_type), or
 * null. `kind` is what the call makes: system codes (add/stock without a file), or imported
 * codes (import_codes, or add/stock with a generate_file).
 */
function refusesStock(
  card: { removed: boolean; generate_type: number } | null,
  cardId: string,
  kind: number,
  via: 'add/stock' | 'import_codes',
): Envelope<never> | null {
  if (!card) return fail(ErrorCode.CARD_NOT_FOUND, `card ${cardId} not found`);
  if (card.removed) return fail(ErrorCode.CARD_REMOVED, `card ${cardId} has been removed`);
  if (card.generate_type === kind) return null;
  if (card.generate_type === GenerateType.IMPORT) {
    return fail(
      ErrorCode.WRONG_GENERATE_TYPE,
      `card ${cardId} takes imported codes (generate_type 2): add stock with import_codes {card_id, generate_id, codes}, or with add/stock and a generate_file (the URL of a file of up to quantity codes)`,
    );
  }
  return via === 'add/stock'
    ? fail(ErrorCode.WRONG_GENERATE_TYPE, `card ${cardId} makes its own codes (generate_type 1): add/stock takes no generate_file for it`)
    : fail(ErrorCode.WRONG_GENERATE_TYPE, `card ${cardId} makes its own codes (generate_type 1): use add/stock`);
}

/** Stock of codes: scheduling, importing, and the work of the `card-stock` jobs. */
@Injectable()
export class StockService {
  private readonly log = new Logger(StockService.name);

  constructor(
    private readonly db: DataSource,
    private readonly repo: StockRepository,
    private readonly queue: StockQueue,
    private readonly clock: Clock,
    @Inject(CONFIG) private readonly cfg: AppConfig,
  ) {}

  /** Creates a job record and counts it into the card's total, inside the caller's transaction; false if the id exists. */
  async schedule(em: EntityManager, g: NewGenerate): Promise<boolean> {
    const created = await this.repo.insertGenerate(em, g);
    if (created) await this.repo.addToTotal(em, g.crm_id, g.card_id, g.card_num);
    return created;
  }

  async addStock(m: AddStockMsg): Promise<Envelope<GenerateView>> {
    const generateId = m.generate_id ?? newGenerateId();
    // generate_file only when given, so jobs recorded before it existed keep their hash.
    const hash = payloadHash({
      op: 'add_stock',
      card_id: m.card_id,
      quantity: m.quantity,
      ...(m.generate_file !== undefined && { generate_file: m.generate_file }),
    });
    const kind = m.generate_file === undefined ? GenerateType.SYSTEM : GenerateType.IMPORT;
    const outcome = await this.db.transaction(async (em): Promise<Envelope<never> | 'created' | 'exists'> => {
      const card = await this.repo.lockCard(em, m.crm_id, m.card_id);
      // A repeat answers as the first call did (or is a conflict), whatever became of the card since.
      if (await this.repo.payloadHash(em, m.crm_id, generateId)) return 'exists';
      const refused = refusesStock(card, m.card_id, kind, 'add/stock');
      if (refused) return refused;
      const created = await this.schedule(em, {
        crm_id: m.crm_id,
        card_id: m.card_id,
        generate_id: generateId,
        generate_type: kind,
        card_num: m.quantity,
        source_file: m.generate_file ?? null,
        payload_hash: hash,
      });
      return created ? 'created' : 'exists';
    });
    if (typeof outcome === 'object') return outcome;
    const replay = await this.replay(m.crm_id, generateId, hash);
    if (replay.code !== ErrorCode.OK) return replay;
    const status = replay.data!;
    if (!status.is_generated) await this.queue.enqueue({ crm_id: m.crm_id, generate_id: generateId });
    return ok(originalGenerateView(status), '生成卡券任务创建成功,请等待卡券创建完成');
  }

  async status(m: StockStatusMsg): Promise<Envelope<StockStatusView>> {
    const s = await this.repo.status(m.crm_id, m.generate_id, this.cfg.appTz);
    return s ? ok(s) : fail(ErrorCode.GENERATE_NOT_FOUND, `no stock job with generate_id ${m.generate_id}`);
  }

  /** Imports up to 10,000 codes in one transaction: the job record and the codes land together or not at all. */
  async importCodes(m: ImportCodesMsg): Promise<Envelope<StockStatusView>> {
    const hash = payloadHash({ op: 'import_codes', card_id: m.card_id, codes: m.codes });
    for (let attempt = 1; ; attempt++) {
      try {
        const failed = await this.db.transaction(async (em): Promise<Envelope<never> | null> => {
          const card = await this.repo.lockCard(em, m.crm_id, m.card_id);
          // A repeat answers as the first call did (or is a conflict), whatever became of the card since.
          if (await this.repo.payloadHash(em, m.crm_id, m.generate_id)) return null;
          const refused = refusesStock(card, m.card_id, GenerateType.IMPORT, 'import_codes');
          if (refused) return refused;
          const created = await this.schedule(em, {
            crm_id: m.crm_id,
            card_id: m.card_id,
            generate_id: m.generate_id,
            generate_type: GenerateType.IMPORT,
            card_num: m.codes.length,
            source_file: null,
            payload_hash: hash,
          });
          if (!created) return null;
          const g = (await this.repo.lockGenerate(em, m.crm_id, m.generate_id))!;
          await this.importBatch(em, g, card!, /* refusesStock passed: the card exists */ m.codes, m.codes.length);
          await this.repo.finish(em, m.crm_id, m.generate_id, GenerateStatus.DONE, this.clock.now());
          return null;
        });
        if (failed) return failed;
        return this.replay(m.crm_id, m.generate_id, hash);
      } catch (err) {
        // Another import of the same tenant took one of these codes first: check again.
        if (isUniqueViolation(err) && attempt < MAX_COLLISION_RETRIES) continue;
        throw err;
      }
    }
  }

  /** The answer for an existing generate_id: the record if the payload matches, else a conflict. */
  private async replay(crmId: string, generateId: string, hash: string): Promise<Envelope<StockStatusView>> {
    const stored = await this.repo.payloadHash(this.db.manager, crmId, generateId);
    if (stored !== hash) return idConflict('generate_id', generateId);
    return ok((await this.repo.status(crmId, generateId, this.cfg.appTz))!);
  }

  // ---- work of the card-stock jobs ----

  /** Fills one job to its end; safe to run again after a crash (each batch commits with its progress). */
  async fill(crmId: string, generateId: string, progress: (fraction: number) => Promise<void> | void): Promise<void> {
    const g = await this.repo.find(crmId, generateId);
    if (!g || g.is_generated) return;
    if (g.generate_type === GenerateType.SYSTEM) {
      while (!(await this.generateBatch(crmId, generateId, progress))) {
        /* next batch */
      }
    } else {
      try {
        await this.importFile(g, progress);
      } catch (err) {
        // A refused file fails the job at once; other errors (network, 5xx) are retried by the queue.
        if (!(err instanceof CodeFileRefusedError)) throw err;
        this.log.warn(`stock job ${generateId} failed: ${err.message}`);
        await this.markFailed(crmId, generateId, err.message);
      }
    }
  }

  /** One transaction of system codes; true when the job is complete. */
  private async generateBatch(crmId: string, generateId: string, progress: (f: number) => Promise<void> | void): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      const runner = this.db.createQueryRunner();
      const client = await runner.connect();
      await runner.startTransaction();
      try {
        const em = runner.manager;
        const g = await this.repo.lockGenerate(em, crmId, generateId);
        if (!g || g.is_generated) {
          await runner.commitTransaction();
          return true;
        }
        const card = await this.repo.lockCard(em, crmId, g.card_id);
        if (!card || card.removed) {
          await this.repo.finish(em, crmId, generateId, GenerateStatus.FAILED, this.clock.now(), `card ${g.card_id} was removed`);
          await runner.commitTransaction();
          return true;
        }
        const n = Math.min(this.cfg.stockBatchSize, g.card_num - g.generated);
        if (n > 0) {
          const codes = numericCodes(n, randomBytes);
          await this.repo.copyCodes(client, crmId, g.card_id, generateId, card.next_slot, codes);
          await this.repo.recordBatch(em, g, { inserted: n, rejected: 0, rejected_reasons: {}, rejected_samples: [], lines: 0 });
        }
        const complete = g.generated + n >= g.card_num;
        if (complete) await this.repo.finish(em, crmId, generateId, GenerateStatus.DONE, this.clock.now());
        await runner.commitTransaction();
        await progress(g.card_num ? (g.generated + n) / g.card_num : 1);
        return complete;
      } catch (err) {
        await runner.rollbackTransaction().catch(() => undefined);
        // A fresh random code equal to an existing one (about 1 in 10^13 per code): draw the batch again.
        if (isUniqueViolation(err) && attempt < MAX_COLLISION_RETRIES) continue;
        throw err;
      } finally {
        await runner.release();
      }
    }
  }

  private async importFile(g: GenerateRecord, progress: (f: number) => Promise<void> | void): Promise<void> {
    // Lines counted by an earlier attempt are skipped. Each batch says where it starts, so
    // a second worker on the same record stops instead of counting lines twice.
    let done = g.lines_done;
    let seen = 0;
    let lines = 0;
    let codes: string[] = [];
    /** Commits what was read; true while the import goes on (not after the last batch, nor when the job ended meanwhile). */
    const flush = async (last: boolean): Promise<boolean> => {
      const goOn = await this.importFileBatch(g.crm_id, g.generate_id, done, codes, lines, last);
      done += lines;
      codes = [];
      lines = 0;
      if (!goOn || last) return false;
      const now = await this.repo.find(g.crm_id, g.generate_id);
      if (now) await progress(now.card_num ? Math.min(1, (now.generated + now.rejected) / now.card_num) : 1);
      return true;
    };
    const file = linesFromUrl(g.source_file!, { allowPrivateHosts: this.cfg.importAllowPrivateHosts });
    for await (const line of file) {
      if (seen++ < g.lines_done) continue;
      lines++;
      const code = codeFromLine(line);
      if (code !== null) codes.push(code);
      if (codes.length >= IMPORT_BATCH && !(await flush(false))) return;
    }
    await flush(true);
  }

  /**
   * One transaction of an import file: the lines read since `linesDone`, and with `last`
   * the end of the job. False when the job has ended (its card was removed: it fails).
   */
  private async importFileBatch(crmId: string, generateId: string, linesDone: number, codes: string[], lines: number, last: boolean): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.db.transaction(async (em) => {
          const g = await this.repo.lockGenerate(em, crmId, generateId);
          if (!g || g.is_generated) return false;
          const card = await this.repo.lockCard(em, crmId, g.card_id);
          if (!card || card.removed) {
            await this.repo.finish(em, crmId, generateId, GenerateStatus.FAILED, this.clock.now(), `card ${g.card_id} was removed`);
            return false;
          }
          if (g.lines_done !== linesDone) {
            throw new ImportOvertakenError(
              `stock job ${generateId}: another worker imported lines meanwhile (${g.lines_done} lines done, this one started at ${linesDone}); this attempt stops`,
            );
          }
          if (lines > 0) await this.importBatch(em, g, card, codes, lines);
          if (last) await this.repo.finish(em, crmId, generateId, GenerateStatus.DONE, this.clock.now());
          return true;
        });
      } catch (err) {
        if (isUniqueViolation(err) && attempt < MAX_COLLISION_RETRIES) continue;
        throw err;
      }
    }
  }

  /**
   * Checks and inserts one batch of imported codes under the card's lock (taken and
   * checked by the caller): malformed, repeated, already existing and over-quantity codes
   * are skipped and counted by reason.
   */
  private async importBatch(em: EntityManager, g: GenerateRecord, card: { next_slot: number }, codes: string[], lines: number): Promise<BatchOutcome> {
    const screened = screenCodes(codes);
    const existing = await this.repo.existingCodes(em, g.crm_id, screened.candidates);
    const fresh: string[] = [];
    const repeated: string[] = [];
    const taken: string[] = [];
    for (const code of screened.candidates) {
      const owner = existing.get(code);
      if (owner === undefined) fresh.push(code);
      else if (owner === g.generate_id) repeated.push(code);
      else taken.push(code);
    }
    const room = Math.max(0, g.card_num - g.generated);
    const accepted = fresh.slice(0, room);
    const rejects = { rejected: screened.rejected, samples: screened.samples };
    addRejects(rejects, RejectReason.DUPLICATE_IN_IMPORT, repeated);
    addRejects(rejects, RejectReason.ALREADY_EXISTS, taken);
    addRejects(rejects, RejectReason.OVER_QUANTITY, fresh.slice(room));
    await this.repo.insertCodes(em, g.crm_id, g.card_id, g.generate_id, card.next_slot, accepted);
    const outcome: BatchOutcome = {
      inserted: accepted.length,
      rejected: totalRejected(rejects.rejected),
      rejected_reasons: mergeRejects(g.rejected_reasons, rejects.rejected),
      rejected_samples: [...g.rejected_samples, ...rejects.samples].slice(0, 20),
      lines,
    };
    await this.repo.recordBatch(em, g, outcome);
    return outcome;
  }

  /** Marks a job that will not be tried again. */
  async markFailed(crmId: string, generateId: string, reason: string): Promise<void> {
    await this.db.transaction((em) => this.repo.finish(em, crmId, generateId, GenerateStatus.FAILED, this.clock.now(), reason));
  }

  /**
   * The recovery sweep (every STOCK_RECOVER_MS): PostgreSQL is the record of what is
   * unfinished, Redis only carries the jobs. Every record still generating and created at
   * least STOCK_RECOVER_MS ago (by the service clock) is queued again under its own job id:
   * a job still waiting or running makes that a no-op; one Redis lost (a flush, a fresh
   * Redis) or kept as failed or completed is replaced. The job resumes where the record
   * says it stopped (each batch commits with its count), so no code is made twice.
   * Answers how many were queued again.
   */
  async requeueUnfinished(): Promise<number> {
    let queued = 0;
    let after: { create_time: Date; crm_id: string; generate_id: string } | null = null;
    const olderThan = new Date(this.clock.now().getTime() - this.cfg.stockRecoverMs);
    for (;;) {
      const rows = await this.repo.unfinished(olderThan, RECOVER_PAGE, after);
      for (const r of rows) if (await this.queue.requeue({ crm_id: r.crm_id, generate_id: r.generate_id })) queued++;
      if (rows.length < RECOVER_PAGE) break;
      after = rows[rows.length - 1];
    }
    if (queued) this.log.warn(`queued ${queued} unfinished stock job(s) again (their queue entry was gone or had ended)`);
    return queued;
  }
}
