import { ConsoleLogger, LogLevel } from '@nestjs/common';
import { AppConfig, LOG_LEVELS } from './config';
import { currentRequestId } from './observability/request-id';

/**
 * Nest's logger: plain lines for people, one JSON object a line with LOG_FORMAT=json. A line
 * written while a request is handled carries its id (`[req <id>]`, or `request_id` in
 * JSON), in every process the request passed through.
 */
export class AppLogger extends ConsoleLogger {
  protected formatMessage(
    logLevel: LogLevel,
    message: unknown,
    pidMessage: string,
    formattedLogLevel: string,
    contextMessage: string,
    timestampDiff: string,
  ): string {
    const line = super.formatMessage(logLevel, message, pidMessage, formattedLogLevel, contextMessage, timestampDiff);
    const id = currentRequestId();
    return id ? line.replace(contextMessage, `${contextMessage}[req ${id}] `) : line;
  }

  protected getJsonLogObject(message: unknown, options: Parameters<ConsoleLogger['getJsonLogObject']>[1]): ReturnType<ConsoleLogger['getJsonLogObject']> {
    const object = super.getJsonLogObject(message, options);
    const id = currentRequestId();
    return id ? Object.assign(object, { request_id: id }) : object;
  }
}

export function createLogger(cfg: AppConfig, app: string): AppLogger {
  const upto = LOG_LEVELS.indexOf(cfg.logLevel);
  return new AppLogger(app, { json: cfg.logJson, colors: false, logLevels: LOG_LEVELS.slice(0, upto + 1) });
}
