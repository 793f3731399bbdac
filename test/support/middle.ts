import { Provider } from '@nestjs/common';
import { Test, TestingModule } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Client } from 'pg';
import { DataSource, MigrationInterface } from 'typeorm';
import { AppConfig, Clock, CONFIG, dataSourceOptions, loadConfig, migrateSchema } from '@app/platform';
import { PG_ADMIN_URL } from './suite';

/**
 * The middle tier of tests: one service's use cases with their real repositories on a
 * real PostgreSQL database of the test file's own, in-process (no transport, no other
 * app), with a clock the test moves.
 */

/** A clock that stands still until the test moves it. */
export class ManualClock extends Clock {
  private t: number;

  constructor(start = Date.parse('2026-06-15T04:00:00Z')) {
    super();
    this.t = start;
  }

  now(): Date {
    return new Date(this.t);
  }

  set(at: Date | string): void {
    this.t = typeof at === 'string' ? Date.parse(at) : at.getTime();
  }

  advance(ms: number): void {
    this.t += ms;
  }
}

export interface MiddleOptions {
  /** Names the database (`<TEST_DB_PREFIX>_mid_<name>`). */
  name: string;
  schema: string;
  migrations: Array<new () => MigrationInterface>;
  providers: Provider[];
  /** Settings besides the database (as environment variables, read by loadConfig). */
  env?: Record<string, string>;
}

export interface Middle {
  module: TestingModule;
  db: DataSource;
  clock: ManualClock;
  cfg: AppConfig;
  get<T>(type: new (...args: any[]) => T): T;
  sql<T = any>(text: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

/** A fresh database with the service's schema migrated, and a Nest module of the providers given on it. */
export async function startMiddle(opts: MiddleOptions): Promise<Middle> {
  const dbName = `${process.env.TEST_DB_PREFIX ?? 'e2e'}_mid_${opts.name}`;
  const admin = new Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  const cfg = loadConfig({ DATABASE_URL: PG_ADMIN_URL.replace(/\/[^/]*$/, `/${dbName}`), CRM_ROOT_API_KEY: 'middle', ...opts.env }, []);
  const migrate = new DataSource(dataSourceOptions(cfg, opts.schema, opts.migrations, `${opts.name}-migrate`));
  await migrate.initialize();
  await migrateSchema(migrate, opts.schema).finally(() => migrate.destroy());

  const clock = new ManualClock();
  const module = await Test.createTestingModule({
    imports: [TypeOrmModule.forRoot(dataSourceOptions(cfg, opts.schema, opts.migrations, opts.name))],
    providers: [...opts.providers, { provide: CONFIG, useValue: cfg }, { provide: Clock, useValue: clock }],
  }).compile();
  await module.init();
  const db = module.get(DataSource);
  return {
    module,
    db,
    clock,
    cfg,
    get: (type) => module.get(type),
    sql: (text, params = []) => db.query(text, params),
    close: () => module.close(),
  };
}
