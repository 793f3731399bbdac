import { ConsoleLogger, LogLevel } from '@nestjs/common';
import { AppConfig } from './config';

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

/** Nest's logger: plain lines for people, one JSON object a line with LOG_FORMAT=json. */
export function createLogger(cfg: AppConfig, app: string): ConsoleLogger {
  const upto = Math.max(0, LEVELS.indexOf(cfg.logLevel as LogLevel));
  return new ConsoleLogger(app, { json: cfg.logJson, colors: false, logLevels: LEVELS.slice(0, upto + 1) });
}
