import { NestFactory } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { CRM_ID_PATTERN } from '@app/domain';
import { AppConfig, dataSourceOptions, loadConfig, migrateSchema } from '@app/platform';
import { CARD_FACTS_CLIENT, CardFactsClient } from './card-facts.client';
import { BuildReport, MAX_LISTED_DIFFERENCES } from './rollup.builder';
import { FactSource, RebuildService } from './rebuild.service';
import { RebuildModule } from './rebuild.module';

/** Exit codes of `dashboard:rebuild`. */
export const REBUILD_EXIT = { SAME: 0, DIFFERENT: 1, ERROR: 2 } as const;

export interface RebuildArgs {
  crmId: string;
  apply: boolean;
  source: FactSource;
}

const USAGE = 'usage: npm run dashboard:rebuild -- --crm-id <crm_id> [--apply]';

/** `--crm-id X` (or `--crm-id=X`), `--apply`, `--source card|staged` (staged: the rows already in rebuild_event, for benchmarks). */
export function parseRebuildArgs(argv: readonly string[]): RebuildArgs | { error: string } {
  const out: Partial<RebuildArgs> = { apply: false, source: 'card' };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] =
      argv[i].startsWith('--') && argv[i].includes('=')
        ? [argv[i].slice(0, argv[i].indexOf('=')), argv[i].slice(argv[i].indexOf('=') + 1)]
        : [argv[i], undefined];
    const value = () => inline ?? argv[++i];
    if (flag === '--crm-id') out.crmId = value();
    else if (flag === '--apply') out.apply = true;
    else if (flag === '--source') {
      const v = value();
      if (v !== 'card' && v !== 'staged') return { error: `--source must be card or staged, got "${v}"` };
      out.source = v;
    } else if (flag.startsWith('--role'))
      continue; // the config's own switch
    else return { error: `unknown argument "${argv[i]}"; ${USAGE}` };
  }
  if (!out.crmId) return { error: `--crm-id is required; ${USAGE}` };
  if (!CRM_ID_PATTERN.test(out.crmId)) return { error: `--crm-id must be 1-32 letters, digits, _ or -, got "${out.crmId}"` };
  return out as RebuildArgs;
}

/** The readable summary: facts read, rows compared per table, each difference listed. */
export function formatReport(r: BuildReport, ms: number): string {
  const lines = [`dashboard rebuild of ${r.crm_id}: ${r.facts} fact(s) in ${(ms / 1000).toFixed(1)} s`];
  const width = Math.max(...r.tables.map((t) => t.table.length));
  for (const t of r.tables) lines.push(`  ${t.table.padEnd(width)}  ${String(t.compared).padStart(9)} row(s) compared, ${t.differing} different`);
  const differing = r.tables.reduce((a, t) => a + t.differing, 0);
  if (differing) {
    lines.push(`${differing} difference(s)${differing > r.differences.length ? ` (the first ${MAX_LISTED_DIFFERENCES} listed)` : ''}:`);
    for (const d of r.differences) lines.push(`  ${d.table} ${JSON.stringify(d.key)}: live ${JSON.stringify(d.live)}, rebuilt ${JSON.stringify(d.rebuilt)}`);
  } else lines.push('no difference');
  if (r.applied) lines.push(differing ? 'applied: the live rollups of the tenant are now the rebuilt ones' : 'applied (nothing changed)');
  return lines.join('\n');
}

/**
 * `node dist/apps/dashboard-service/main.js rebuild --crm-id X [--apply] [--source staged]`:
 * migrates the schema, boots an application context (no transport server, no queue
 * consumer), rebuilds, prints the summary. Answers the exit code: 0 no difference (or
 * applied), 1 differences found (not applied), 2 an error.
 */
export async function runRebuild(
  argv: readonly string[],
  schema: string,
  migrations: Parameters<typeof dataSourceOptions>[2],
  cfg: AppConfig = loadConfig(),
): Promise<number> {
  const args = parseRebuildArgs(argv);
  if ('error' in args) {
    console.error(args.error);
    return REBUILD_EXIT.ERROR;
  }
  const ds = new DataSource(dataSourceOptions(cfg, schema, migrations, 'dashboard-rebuild-migrate'));
  await ds.initialize();
  await migrateSchema(ds, schema).finally(() => ds.destroy());
  const app = await NestFactory.createApplicationContext(RebuildModule.forConfig(cfg, schema, migrations), { logger: ['error', 'warn'] });
  try {
    const started = Date.now();
    let lastShown = 0;
    const report = await app.get(RebuildService).rebuild({
      ...args,
      onPage: (n) => {
        if (n - lastShown >= 100_000) {
          lastShown = n;
          console.error(`fetched ${n} fact(s)`);
        }
      },
    });
    console.log(formatReport(report, Date.now() - started));
    return report.applied || report.tables.every((t) => t.differing === 0) ? REBUILD_EXIT.SAME : REBUILD_EXIT.DIFFERENT;
  } finally {
    await app.get<CardFactsClient>(CARD_FACTS_CLIENT).close();
    await app.close();
  }
}
