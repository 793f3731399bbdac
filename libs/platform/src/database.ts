import { DataSource, DataSourceOptions, MigrationInterface } from 'typeorm';
import { AppConfig } from './config';

type MigrationClass = new () => MigrationInterface;

/** Each service owns one PostgreSQL schema and its own migrations (kept in a table of that schema). */
export function dataSourceOptions(cfg: AppConfig, schema: string, migrations: MigrationClass[], appName: string): DataSourceOptions {
  return {
    type: 'postgres',
    url: cfg.databaseUrl,
    schema,
    migrations,
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    logging: ['error'],
    extra: {
      max: cfg.dbPoolSize,
      application_name: appName,
      // Waiting for a pooled connection, or holding a transaction open while idle, has a limit: neither may hang a process.
      connectionTimeoutMillis: 15_000,
      idle_in_transaction_session_timeout: 60_000,
      // No JIT compilation: every statement here is short, and JIT (on above a plan cost that generate_series' default
      // estimate of 1,000 rows alone can pass) cost the dashboard's range reads about 13 ms per statement for nothing.
      options: '-c jit=off',
    },
  };
}

/**
 * Runs pending migrations of one schema. An advisory lock makes replicas that start
 * together take turns, so each migration runs once.
 */
export async function migrateSchema(ds: DataSource, schema: string): Promise<string[]> {
  const runner = ds.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock(hashtext($1))', [`migrate:${schema}`]);
    await runner.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    const done = await ds.runMigrations({ transaction: 'each' });
    return done.map((m) => m.name);
  } finally {
    await runner.query('SELECT pg_advisory_unlock(hashtext($1))', [`migrate:${schema}`]).catch(() => undefined);
    await runner.release();
  }
}

/** node-postgres answers `numeric` and `bigint` as text; counts fit in a JS number. */
export const num = (v: string | number | null | undefined): number => (v === null || v === undefined ? 0 : Number(v));
export const numOrNull = (v: string | number | null | undefined): number | null => (v === null || v === undefined ? null : Number(v));

export const PG_UNIQUE_VIOLATION = '23505';
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const e = err as { code?: string; constraint?: string; driverError?: { code?: string; constraint?: string } };
  const code = e?.code ?? e?.driverError?.code;
  const name = e?.constraint ?? e?.driverError?.constraint;
  return code === PG_UNIQUE_VIOLATION && (!constraint || name === constraint);
}

/** Formats a timestamptz column as `YYYY-MM-DD HH:mm:ss` in the zone given as a parameter (e.g. `$3`). */
export const fmtTime = (col: string, tzParam: string) => `to_char(${col} AT TIME ZONE ${tzParam}, 'YYYY-MM-DD HH24:MI:SS')`;
