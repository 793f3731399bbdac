import { loadConfig, roleFrom } from './config';

describe('loadConfig', () => {
  it('has a default for every setting', () => {
    const { rootApiKey, ...config } = loadConfig({}, []);
    expect(config).toStrictEqual({
      port: 3000,
      host: '0.0.0.0',
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/postgres',
      redisUrl: 'redis://127.0.0.1:6379',
      rootApiKeyGenerated: true,
      appTz: 'Asia/Shanghai',
      role: 'both',
      rpcTimeoutMs: 10_000,
      rpcClaimIdleMs: 3_000,
      rpcConcurrency: 64,
      rpcMaxPending: 2000,
      httpMaxInFlight: 1024,
      drainTimeoutMs: 15_000,
      queueLockMs: 30_000,
      stockBatchSize: 20_000,
      dbPoolSize: 10,
      importAllowPrivateHosts: false,
      claimBatchMax: 200,
      pointsBatchMax: 500,
      dashboardBatchMax: 1000,
      dashboardLanes: 2,
      presentTimeoutHours: 24,
      transferTimeoutHours: 24,
      expirySweepMs: 60_000,
      expiryBatchSize: 5_000,
      outboxPollMs: 200,
      webhookForwardPollMs: 200,
      outboxRecheckMs: 10_000,
      stockRecoverMs: 60_000,
      queueRepeatCheckMs: 30_000,
      pointsInboxPollMs: 200,
      pointsInboxKeepHours: 24,
      clockControlKey: undefined,
      metricsPort: undefined,
      rateLimitAdminPerMin: 600_000,
      rateLimitClientPerMin: 300_000,
      accessLog: true,
      webhookTimeoutMs: 10_000,
      webhookAllowPrivateHosts: false,
      webhookConcurrency: 32,
      webhookPollMs: 200,
      webhookEventKeepDays: 30,
      logJson: false,
      logLevel: 'log',
    });
    expect(rootApiKey).toMatch(/^root_[A-Za-z0-9_-]{32}$/);
  });

  it('generates a new root key each run', () => {
    expect(loadConfig({}, []).rootApiKey).not.toBe(loadConfig({}, []).rootApiKey);
  });

  it.each([[undefined], ['']])('CRM_ROOT_API_KEY %j -> a generated key, flagged', (key) => {
    const config = loadConfig({ CRM_ROOT_API_KEY: key }, []);
    expect(config.rootApiKeyGenerated).toBe(true);
    expect(config.rootApiKey).toMatch(/^root_[A-Za-z0-9_-]{32}$/);
  });

  it('reads every setting from the environment', () => {
    const env = {
      PORT: '8080',
      HOST: '127.0.0.1',
      DATABASE_URL: 'postgres://app@db:5432/loyalty',
      REDIS_URL: 'redis://cache:6380/1',
      CRM_ROOT_API_KEY: 'root_fixed',
      APP_TZ: 'Europe/Berlin',
      ROLE: 'worker',
      RPC_TIMEOUT_MS: '2500',
      RPC_CLAIM_IDLE_MS: '1000',
      RPC_CONCURRENCY: '8',
      RPC_MAX_PENDING: '300',
      DRAIN_TIMEOUT_MS: '5000',
      HTTP_MAX_IN_FLIGHT: '64',
      QUEUE_LOCK_MS: '60000',
      STOCK_BATCH_SIZE: '5000',
      DB_POOL_SIZE: '20',
      IMPORT_ALLOW_PRIVATE_HOSTS: 'true',
      CLAIM_BATCH_MAX: '50',
      POINTS_BATCH_MAX: '25',
      DASHBOARD_BATCH_MAX: '50',
      DASHBOARD_LANES: '3',
      PRESENT_TIMEOUT_HOURS: '48',
      TRANSFER_TIMEOUT_HOURS: '12',
      EXPIRY_SWEEP_MS: '1000',
      EXPIRY_BATCH_SIZE: '100',
      OUTBOX_POLL_MS: '50',
      WEBHOOK_FORWARD_POLL_MS: '75',
      OUTBOX_RECHECK_MS: '500',
      STOCK_RECOVER_MS: '700',
      QUEUE_REPEAT_CHECK_MS: '300',
      POINTS_INBOX_POLL_MS: '20',
      POINTS_INBOX_KEEP_HOURS: '2',
      CLOCK_CONTROL_KEY: 'test-clock',
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'debug',
      METRICS_PORT: '9101',
      RATE_LIMIT_ADMIN_PER_MIN: '0',
      RATE_LIMIT_CLIENT_PER_MIN: '120',
      ACCESS_LOG: 'false',
      WEBHOOK_TIMEOUT_MS: '3000',
      WEBHOOK_ALLOW_PRIVATE_HOSTS: 'true',
      WEBHOOK_CONCURRENCY: '4',
      WEBHOOK_POLL_MS: '25',
      WEBHOOK_EVENT_KEEP_DAYS: '7',
    };
    expect(loadConfig(env, [])).toStrictEqual({
      port: 8080,
      host: '127.0.0.1',
      databaseUrl: 'postgres://app@db:5432/loyalty',
      redisUrl: 'redis://cache:6380/1',
      rootApiKey: 'root_fixed',
      rootApiKeyGenerated: false,
      appTz: 'Europe/Berlin',
      role: 'worker',
      rpcTimeoutMs: 2500,
      rpcClaimIdleMs: 1000,
      rpcConcurrency: 8,
      rpcMaxPending: 300,
      httpMaxInFlight: 64,
      drainTimeoutMs: 5000,
      queueLockMs: 60_000,
      stockBatchSize: 5000,
      dbPoolSize: 20,
      importAllowPrivateHosts: true,
      claimBatchMax: 50,
      pointsBatchMax: 25,
      dashboardBatchMax: 50,
      dashboardLanes: 3,
      presentTimeoutHours: 48,
      transferTimeoutHours: 12,
      expirySweepMs: 1000,
      expiryBatchSize: 100,
      outboxPollMs: 50,
      webhookForwardPollMs: 75,
      outboxRecheckMs: 500,
      stockRecoverMs: 700,
      queueRepeatCheckMs: 300,
      pointsInboxPollMs: 20,
      pointsInboxKeepHours: 2,
      clockControlKey: 'test-clock',
      metricsPort: 9101,
      rateLimitAdminPerMin: 0,
      rateLimitClientPerMin: 120,
      accessLog: false,
      webhookTimeoutMs: 3000,
      webhookAllowPrivateHosts: true,
      webhookConcurrency: 4,
      webhookPollMs: 25,
      webhookEventKeepDays: 7,
      logJson: true,
      logLevel: 'debug',
    });
  });

  it.each<[string, string, keyof ReturnType<typeof loadConfig>, number]>([
    ['PORT', '', 'port', 3000],
    ['RPC_TIMEOUT_MS', '', 'rpcTimeoutMs', 10_000],
    ['DRAIN_TIMEOUT_MS', '', 'drainTimeoutMs', 15_000],
    ['STOCK_BATCH_SIZE', '100000', 'stockBatchSize', 100_000],
  ])('%s=%j -> %s %i', (name, raw, key, expected) => {
    expect(loadConfig({ [name]: raw }, [])[key]).toBe(expected);
  });

  it.each([['text'], ['']])('LOG_FORMAT %j is not JSON', (format) => {
    expect(loadConfig({ LOG_FORMAT: format }, []).logJson).toBe(false);
  });

  it.each([
    ['LOG_FORMAT', 'plain', 'LOG_FORMAT must be one of text, json, got "plain"'],
    ['LOG_LEVEL', 'loud', 'LOG_LEVEL must be one of fatal, error, warn, log, debug, verbose, got "loud"'],
    ['APP_TZ', 'Mars/Olympus', 'APP_TZ must be an IANA time zone such as Asia/Shanghai, got "Mars/Olympus"'],
    ['PORT', ' 5 x', 'PORT must be a whole number of at least 1, got "5 x"'],
    ['IMPORT_ALLOW_PRIVATE_HOSTS', 'yes', 'IMPORT_ALLOW_PRIVATE_HOSTS must be one of true, false, got "yes"'],
  ])('refuses %s=%j naming it', (name, raw, message) => {
    expect(() => loadConfig({ [name]: raw }, [])).toThrow(message);
  });

  it.each([
    ['DATABASE_URL', 'databaseUrl', 'postgres://postgres@127.0.0.1:5432/postgres'],
    ['REDIS_URL', 'redisUrl', 'redis://127.0.0.1:6379'],
    ['APP_TZ', 'appTz', 'Asia/Shanghai'],
    ['HOST', 'host', '0.0.0.0'],
  ] as const)('an empty %s counts as not set', (name, key, expected) => {
    expect(loadConfig({ [name]: '' }, [])[key]).toBe(expected);
  });

  it('an empty ROLE is the default role', () => {
    expect(loadConfig({ ROLE: '' }, []).role).toBe('both');
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['RPC_TIMEOUT_MS', '10s'],
    ['RPC_CLAIM_IDLE_MS', 'NaN'],
    ['RPC_CONCURRENCY', 'Infinity'],
    ['QUEUE_LOCK_MS', '1e400'],
    ['STOCK_BATCH_SIZE', '20,000'],
    ['DB_POOL_SIZE', 'ten'],
    ['PORT', '0'],
    ['STOCK_BATCH_SIZE', '0'],
    ['RPC_CLAIM_IDLE_MS', '0'],
    ['OUTBOX_POLL_MS', '0'],
    ['OUTBOX_POLL_MS', '0.5'],
    ['WEBHOOK_FORWARD_POLL_MS', '0'],
    ['OUTBOX_RECHECK_MS', '0'],
    ['STOCK_RECOVER_MS', '-1'],
    ['QUEUE_REPEAT_CHECK_MS', '0'],
    ['POINTS_INBOX_POLL_MS', '0'],
    ['POINTS_INBOX_KEEP_HOURS', 'x'],
  ])('%s=%j throws naming the variable', (name, raw) => {
    expect(() => loadConfig({ [name]: raw }, [])).toThrow(new Error(`${name} must be a whole number of at least 1, got "${raw}"`));
  });
});

describe('roleFrom', () => {
  it.each<[string, NodeJS.ProcessEnv, string[], string]>([
    ['neither', {}, [], 'both'],
    ['ROLE', { ROLE: 'api' }, [], 'api'],
    ['ROLE worker', { ROLE: 'worker' }, [], 'worker'],
    ['--role=', {}, ['node', 'main.js', '--role=worker'], 'worker'],
    ['--role= over ROLE', { ROLE: 'worker' }, ['node', 'main.js', '--role=api'], 'api'],
    ['--role=both over ROLE', { ROLE: 'api' }, ['--role=both'], 'both'],
    ['the first --role=', {}, ['--role=api', '--role=worker'], 'api'],
    ['other arguments ignored', { ROLE: 'api' }, ['--port=1', 'role=worker', '--role'], 'api'],
  ])('%s -> %s', (_name, env, argv, role) => {
    expect(roleFrom(env, argv)).toBe(role);
  });

  it('is what loadConfig uses', () => {
    expect(loadConfig({ ROLE: 'worker' }, ['--role=api']).role).toBe('api');
  });

  it.each<[NodeJS.ProcessEnv, string[], string]>([
    [{ ROLE: 'admin' }, [], 'admin'],
    [{ ROLE: 'API' }, [], 'API'],
    [{}, ['--role=all'], 'all'],
    [{}, ['--role='], ''],
    [{ ROLE: 'api' }, ['--role=workers'], 'workers'],
  ])('%j %j throws', (env, argv, raw) => {
    expect(() => roleFrom(env, argv)).toThrow(new Error(`role must be api, worker or both, got "${raw}"`));
    expect(() => loadConfig(env, argv)).toThrow(`role must be api, worker or both, got "${raw}"`);
  });
});
