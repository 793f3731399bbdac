import { ConsoleLogger } from '@nestjs/common';
import { AppConfig, LOG_LEVELS } from './config';

/** Nest's logger: plain lines for people, one JSON object a line with LOG_FORMAT=json. */
export function createLogger(cfg: AppConfig, app: string): ConsoleLogger {
  const upto = LOG_LEVELS.indexOf(cfg.logLevel);
  return new ConsoleLogger(app, { json: cfg.logJson, colors: false, logLevels: LOG_LEVELS.slice(0, upto + 1) });
}
