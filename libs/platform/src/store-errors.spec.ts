import { EventEmitter } from 'node:events';
import { Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import { QueryFailedError } from 'typeorm';
import { ErrorCode } from '@app/domain';
import { isStoreUnavailable, OutageLog, storeUnavailable, watchRedis } from './store-errors';

const pgError = (code: string, message: string) => Object.assign(new Error(message), { code, severity: 'FATAL' });
const netError = (code: string) => Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), { code, errno: -111, syscall: 'connect' });

describe('isStoreUnavailable', () => {
  const outages: Array<[string, unknown]> = [
    ['connection refused', netError('ECONNREFUSED')],
    ['connection reset', netError('ECONNRESET')],
    ['PostgreSQL starting up (57P03)', pgError('57P03', 'the database system is starting up')],
    ['PostgreSQL shutting down (57P01)', pgError('57P01', 'terminating connection due to administrator command')],
    ['too many connections (53300)', pgError('53300', 'sorry, too many clients already')],
    ['read-only transaction (25006)', pgError('25006', 'cannot execute INSERT in a read-only transaction')],
    ['connection failure (08006)', pgError('08006', 'connection failure')],
    ['node-postgres: terminated', new Error('Connection terminated unexpectedly')],
    ['pg-pool: connect timeout', new Error('timeout exceeded when trying to connect')],
    ['node-postgres: broken client', new Error('Client has encountered a connection error and is not queryable')],
    ['TypeORM wrapping a driver error', new QueryFailedError('SELECT 1', [], pgError('57P03', 'the database system is starting up'))],
    ['an error with a cause', new Error('claim batch failed', { cause: netError('ECONNREFUSED') })],
    ['AggregateError of two addresses', new AggregateError([netError('ECONNREFUSED'), netError('ECONNREFUSED')], '')],
    [
      'ioredis: max retries',
      Object.assign(new Error('Reached the max retries per request limit (which is 3). Refer to "maxRetriesPerRequest" option for details.'), {
        name: 'MaxRetriesPerRequestError',
      }),
    ],
    ['ioredis: closed', new Error('Connection is closed.')],
    ['Redis loading', new Error('LOADING Redis is loading the dataset in memory')],
  ];
  it.each(outages)('is true for %s', (_, err) => expect(isStoreUnavailable(err)).toBe(true));

  const bugs: Array<[string, unknown]> = [
    ['a unique violation', new QueryFailedError('INSERT', [], pgError('23505', 'duplicate key value violates unique constraint'))],
    ['a syntax error', pgError('42601', 'syntax error at or near "SELEC"')],
    ['a serialization failure', pgError('40001', 'could not serialize access')],
    ['a TypeError', new TypeError("Cannot read properties of undefined (reading 'x')")],
    ['a transport deadline', { code: ErrorCode.SERVICE_UNAVAILABLE, msg: 'card service unavailable: no answer within 10000 ms' }],
    ['null', null],
    ['a string', 'ECONNREFUSED'],
  ];
  it.each(bugs)('is false for %s', (_, err) => expect(isStoreUnavailable(err)).toBe(false));

  it('answers 50302 "store unavailable, retry"', () => {
    expect(storeUnavailable()).toEqual({ code: 50302, msg: 'store unavailable, retry' });
  });
});

describe('OutageLog', () => {
  it('logs the first refusal at once, then one line per window with how many more there were', () => {
    const lines: string[] = [];
    let now = 1_000_000;
    const log = new OutageLog({ warn: (m: string) => lines.push(m) } as unknown as Logger, 10_000, () => now);
    log.record(netError('ECONNREFUSED'));
    for (let i = 0; i < 50; i++) {
      now += 100;
      log.record(netError('ECONNREFUSED'));
    }
    expect(lines).toHaveLength(1);
    now += 10_000;
    log.record(new Error('Connection terminated unexpectedly'));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe('store unavailable, answered 503: ECONNREFUSED connect ECONNREFUSED 127.0.0.1:5432');
    expect(lines[1]).toMatch(/^store unavailable, answered 503: Connection terminated unexpectedly \(and 50 more in the last 15 s\)$/);
  });
});

describe('watchRedis', () => {
  function watched() {
    const client = new EventEmitter();
    const lines: string[] = [];
    watchRedis(client as unknown as Redis, 'replies', { warn: (m: string) => lines.push(`warn ${m}`), log: (m: string) => lines.push(`log ${m}`) });
    return { client, lines };
  }
  const refused = () => netError('ECONNREFUSED');

  it('says once that a ready connection is lost, and once that it is back, whatever the attempts between', () => {
    const { client, lines } = watched();
    client.emit('ready');
    for (let i = 0; i < 5; i++) client.emit('error', refused());
    client.emit('ready');
    client.emit('error', refused());
    client.emit('ready');
    expect(lines.map((l) => l.replace(/after [\d.]+ s/, 'after N s'))).toEqual([
      'warn replies: Redis connection lost (ECONNREFUSED connect ECONNREFUSED 127.0.0.1:5432); reconnecting',
      'log replies: Redis connection back after N s',
      'warn replies: Redis connection lost (ECONNREFUSED connect ECONNREFUSED 127.0.0.1:5432); reconnecting',
      'log replies: Redis connection back after N s',
    ]);
  });

  it('does not call a first connection that fails "lost": a client that gives up there leaves no "lost" without its "back"', () => {
    const { client, lines } = watched();
    client.emit('error', refused());
    client.emit('error', refused());
    expect(lines).toEqual(['warn replies: cannot reach Redis (ECONNREFUSED connect ECONNREFUSED 127.0.0.1:5432); retrying']);
    client.emit('ready');
    expect(lines[1]).toMatch(/^log replies: Redis reached after [\d.]+ s$/);
    client.emit('ready');
    expect(lines).toHaveLength(2);
  });
});
