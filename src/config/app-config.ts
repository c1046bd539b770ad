import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';

import { Reader } from 'maxmind';

import { readTlsPair, TlsPairError } from 'src/config/tls-pair';

/**
 * The one typed configuration of Tessera. `loadConfig()` is the only reader of `process.env` in the
 * code base: everything else receives an `AppConfig` through dependency injection (`APP_CONFIG`).
 */
export interface AppConfig {
  readonly env: 'development' | 'test' | 'production';
  readonly http: {
    readonly host: string;
    readonly port: number;
    readonly bodyLimitBytes: number;
    readonly trustProxy: boolean | number | string[];
    readonly corsOrigins: readonly string[];
    readonly corsCredentials: boolean;
    readonly shutdownTimeoutMs: number;
    /** HTTPS with this certificate and key (PEM), re-read when the files change. Absent: plain HTTP. */
    readonly tls:
      | { readonly certFile: string; readonly keyFile: string; readonly reloadIntervalMs: number }
      | undefined;
    /** The operator states that clients reach Tessera over HTTPS ended at a proxy in front of it. */
    readonly tlsTerminatedByProxy: boolean;
    /** Serve the OpenAPI document (/openapi.json, /openapi.yaml) and its reference page (/docs). */
    readonly openApiDocs: boolean;
  };
  readonly console: {
    /** Serve the admin console at /console (its data comes from the /v1 API, with an admin's token). */
    readonly enabled: boolean;
    /** The built console; absent: packages/console/dist of this installation. */
    readonly dir: string | undefined;
  };
  readonly database: {
    /** Absent: start the embedded PostgreSQL under `embedded.dir`. */
    readonly url: string | undefined;
    /**
     * The role that owns the schema and runs migrations (DATABASE_MIGRATION_URL, or the embedded owner
     * role). Absent: migrations run as `url`'s role, which then owns the tables (boot warns).
     */
    readonly migrationUrl: string | undefined;
    readonly poolSize: number;
    readonly statementTimeoutMs: number;
    readonly connectTimeoutMs: number;
    readonly migrateOnBoot: boolean;
    readonly embedded: { readonly dir: string; readonly port: number };
  };
  readonly secrets: {
    /** HMAC key for access tokens. */
    readonly jwt: Buffer;
    /** Key encryption key for secrets stored in the database (TOTP secrets, software signing keys). */
    readonly encryption: Buffer;
    /** Key for keyed hashes of bearer secrets (API keys, refresh tokens, license keys). */
    readonly hashing: Buffer;
  };
  readonly auth: {
    readonly accessTokenTtlSeconds: number;
    readonly refreshTokenTtlDays: number;
    /** Sensitive operations need MFA verified within this many minutes (step-up). */
    readonly stepUpMinutes: number;
    /** Failed logins (per account) before the first lockout; each further failure doubles it. */
    readonly lockoutThreshold: number;
    readonly lockoutBaseSeconds: number;
    readonly apiKeyMaxDays: number;
  };
  readonly rateLimit: {
    readonly anonymousPerMinute: number;
    readonly adminPerMinute: number;
    readonly apiKeyPerMinute: number;
    /** Login, MFA and refresh attempts per client IP. */
    readonly authPerMinute: number;
    /** License validations per client IP (apps in the field, often many behind one address). */
    readonly validatePerMinute: number;
  };
  /** The store of the rate-limit windows. Absent `url`: in the process's memory (per instance). */
  readonly redis: {
    /** redis:// or rediss:// URL shared by every instance, so the limits hold for all of them together. */
    readonly url: string | undefined;
    /** Longest wait for one rate-limit check before the outage policy applies (docs/adr/0011). */
    readonly commandTimeoutMs: number;
    /** After a failed check, checks skip Redis this long before trying it again. */
    readonly retryIntervalMs: number;
    /** Prefix of every key Tessera writes (several deployments may share one Redis). */
    readonly keyPrefix: string;
  };
  readonly dataDir: string;
  readonly log: {
    readonly level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  };
  readonly telemetry: { readonly otlpEndpoint: string | undefined; readonly serviceName: string };
  /** Prometheus metrics, served on a listener of their own (never on the public one). */
  readonly metrics: {
    /** Absent: metrics are off (no listener, no collection, no HTTP hook). 0: any free port. */
    readonly port: number | undefined;
    readonly host: string;
    /** Bearer token scrapers must present; required when `host` is not a loopback address. */
    readonly token: Buffer | undefined;
    /** How often the gauges that need the database are recomputed (one aggregate query each). */
    readonly refreshSeconds: number;
  };
  readonly webhooks: {
    /** Run the delivery dispatcher in this process; several processes may run it against one database. */
    readonly dispatcherEnabled: boolean;
    /** Development only: endpoints may use http:// to a loopback host (never in production). */
    readonly allowHttp: boolean;
    /** IPs/CIDRs deliveries may reach although loopback, private or link-local (the SSRF allow-list). */
    readonly allowedAddresses: readonly string[];
    readonly connectTimeoutMs: number;
    /** Whole attempt: connect, send, and the response's status line and first 2 KB. */
    readonly timeoutMs: number;
    /** Fallback poll for due retries and missed notifications. */
    readonly pollIntervalMs: number;
    /** Attempts in flight per process. */
    readonly concurrency: number;
    /** Attempts in flight per endpoint and process: a slow or dead receiver cannot take every slot. */
    readonly endpointConcurrency: number;
    /** After a rotation the previous secret keeps signing (and verifying) this long. */
    readonly secretOverlapHours: number;
    /** An endpoint failing without a single success for this long is disabled. */
    readonly disableAfterDays: number;
    /** Finished deliveries and their attempt log are deleted this long after they finished. */
    readonly retentionDays: number;
  };
  /** Usage reports and exports (docs/reports.md). */
  readonly reports: {
    /** Count validations (raw rows and rollups). Off only to measure what counting costs. */
    readonly trackValidations: boolean;
    /** Raw validations (the validations export) are kept this many days; 0 keeps none. */
    readonly rawRetentionDays: number;
    /** The 15-minute rollups every time series is read from are kept this many days. */
    readonly rollupRetentionDays: number;
    /** A MaxMind-format country database: machines get the country they activated from. */
    readonly geoipDbFile: string | undefined;
    /** Exports streaming at once in this process (each holds a database connection). */
    readonly exportConcurrency: number;
  };
  readonly signing: {
    /** `pkcs11`: keys live in an HSM. `software`: keys encrypted at rest with ENCRYPTION_KEY (development). */
    readonly backend: 'software' | 'pkcs11';
    readonly pkcs11:
      | {
          readonly modulePath: string;
          readonly tokenLabel: string;
          readonly pin: string;
          /** Sessions kept open for signing; a sign waits for a free one. */
          readonly poolSize: number;
          /** `async`: on worker threads (network HSMs); `sync`: on the event loop (local tokens); `auto`. */
          readonly signMode: 'auto' | 'sync' | 'async';
        }
      | undefined;
    /** Algorithm of new license and audit keys (webhook keys are always Ed25519, as Standard Webhooks asks). */
    readonly algorithm: 'EdDSA' | 'ES256';
    /** Retired keys stay in the JWKS this long, so files signed before a rotation keep verifying. */
    readonly retiredKeyPublishDays: number;
    /** How often an instance re-reads the key ring, to follow rotations made by other instances. */
    readonly keyRingRefreshSeconds: number;
    /** Scheduled signed checkpoints of the audit chain head; 0 turns the schedule off. */
    readonly auditCheckpointMinutes: number;
    readonly licenseFileTtlSeconds: { readonly default: number; readonly max: number };
    /** Sign every license validation response (a detached JWS in the `Tessera-Signature` header). */
    readonly signValidations: boolean;
  };
}

export const APP_CONFIG = Symbol('APP_CONFIG');

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

const SECRET_MIN_BYTES = 32;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** `config` with migrations run as `migrationUrl`'s role, the schema's owner (the embedded server's own). */
export function withMigrationUrl(config: AppConfig, migrationUrl: string | undefined): AppConfig {
  return { ...config, database: { ...config.database, migrationUrl } };
}

/** Reads and validates the environment; collects every problem before failing, so one boot shows them all. */
export function loadConfig(env: Env = process.env, cwd = process.cwd()): AppConfig {
  const problems: string[] = [];
  const read = new EnvReader(env, problems);

  const nodeEnv = read.oneOf(
    'NODE_ENV',
    ['development', 'test', 'production'] as const,
    'development',
  );
  const dataDir = resolve(cwd, read.string('DATA_DIR', 'data'));

  const corsOrigins = read.list('CORS_ORIGINS');
  const corsCredentials = read.bool('CORS_CREDENTIALS', false);
  for (const origin of corsOrigins) {
    if (origin === '*' && corsCredentials) {
      problems.push(
        'CORS_ORIGINS: a wildcard origin cannot be combined with CORS_CREDENTIALS=true',
      );
    } else if (origin !== '*' && !isOrigin(origin)) {
      problems.push(`CORS_ORIGINS: "${origin}" is not an origin (scheme://host[:port])`);
    }
  }

  // DATABASE_URL_FILE: the URL holds the password, so orchestrators mount it as a secret file.
  const databaseUrl = read.optionalSecret('DATABASE_URL')?.trim() || undefined;
  if (databaseUrl !== undefined && !isPostgresUrl(databaseUrl)) {
    problems.push('DATABASE_URL: must be a postgres:// or postgresql:// URL with a host');
  }
  const migrationUrl = read.optionalSecret('DATABASE_MIGRATION_URL')?.trim() || undefined;
  if (migrationUrl !== undefined && !isPostgresUrl(migrationUrl)) {
    problems.push('DATABASE_MIGRATION_URL: must be a postgres:// or postgresql:// URL with a host');
  } else if (migrationUrl !== undefined && databaseUrl === undefined) {
    // The embedded database has its own owner role: a migration URL only makes sense beside DATABASE_URL.
    problems.push('DATABASE_MIGRATION_URL: only used together with DATABASE_URL');
  }

  // REDIS_URL_FILE: the URL may hold the password.
  const redisUrl = read.optionalSecret('REDIS_URL')?.trim() || undefined;
  if (redisUrl !== undefined && !isRedisUrl(redisUrl)) {
    problems.push('REDIS_URL: must be a redis:// or rediss:// URL with a host');
  }

  const otlpEndpoint = read.optional('OTEL_EXPORTER_OTLP_ENDPOINT');
  const consoleDir = read.optional('CONSOLE_DIR');
  if (otlpEndpoint !== undefined && !isHttpUrl(otlpEndpoint)) {
    problems.push('OTEL_EXPORTER_OTLP_ENDPOINT: must be an http:// or https:// URL');
  }

  const host = read.string('HOST', '127.0.0.1');
  if (host !== 'localhost' && isIP(host) === 0) {
    problems.push(`HOST: "${host}" is not an IP address or "localhost"`);
  }

  const signing = readSigning(read, problems);
  const webhooks = readWebhooks(read, problems, nodeEnv);
  const httpPort = read.int('PORT', 3000, 0, 65535);
  const metrics = readMetrics(read, problems, httpPort);
  const trustProxy = read.trustProxy('TRUST_PROXY');
  const tls = readTls(read, problems, cwd);
  const tlsTerminatedByProxy = read.bool('TLS_TERMINATED_BY_PROXY', false);
  if (
    nodeEnv === 'production' &&
    tls === undefined &&
    trustProxy === false &&
    !tlsTerminatedByProxy
  ) {
    problems.push(
      'TLS_CERT_FILE: NODE_ENV=production refuses plain HTTP: set TLS_CERT_FILE and TLS_KEY_FILE, or, when ' +
        'a proxy in front of Tessera ends TLS, TRUST_PROXY (its address) or TLS_TERMINATED_BY_PROXY=true',
    );
  }

  const config: AppConfig = {
    env: nodeEnv,
    http: {
      host,
      port: httpPort,
      bodyLimitBytes: read.int('BODY_LIMIT_BYTES', 1_048_576, 1024, 104_857_600),
      trustProxy,
      corsOrigins,
      corsCredentials,
      shutdownTimeoutMs: read.int('SHUTDOWN_TIMEOUT_MS', 10_000, 0, 300_000),
      tls,
      tlsTerminatedByProxy,
      openApiDocs: read.bool('OPENAPI_DOCS_ENABLED', true),
    },
    console: {
      enabled: read.bool('CONSOLE_ENABLED', true),
      dir: consoleDir === undefined ? undefined : resolve(cwd, consoleDir),
    },
    database: {
      url: databaseUrl,
      migrationUrl,
      poolSize: read.int('DATABASE_POOL_SIZE', 10, 1, 500),
      statementTimeoutMs: read.int('DATABASE_STATEMENT_TIMEOUT_MS', 15_000, 0, 3_600_000),
      connectTimeoutMs: read.int('DATABASE_CONNECT_TIMEOUT_MS', 5_000, 100, 600_000),
      migrateOnBoot: read.bool('DATABASE_MIGRATE_ON_BOOT', true),
      embedded: {
        dir: resolve(cwd, read.string('EMBEDDED_PG_DIR', join(dataDir, 'postgres'))),
        port: read.int('EMBEDDED_PG_PORT', 54329, 1, 65535),
      },
    },
    secrets: {
      jwt: read.secret('JWT_SECRET'),
      encryption: read.secret('ENCRYPTION_KEY'),
      hashing: read.secret('HASHING_KEY'),
    },
    auth: {
      accessTokenTtlSeconds: read.int('ACCESS_TOKEN_TTL_SECONDS', 900, 60, 86_400),
      refreshTokenTtlDays: read.int('REFRESH_TOKEN_TTL_DAYS', 30, 1, 365),
      stepUpMinutes: read.int('MFA_STEP_UP_MINUTES', 10, 1, 1_440),
      lockoutThreshold: read.int('LOGIN_LOCKOUT_THRESHOLD', 5, 1, 100),
      lockoutBaseSeconds: read.int('LOGIN_LOCKOUT_BASE_SECONDS', 30, 1, 86_400),
      apiKeyMaxDays: read.int('API_KEY_MAX_DAYS', 365, 1, 3_650),
    },
    rateLimit: {
      anonymousPerMinute: read.int('RATE_LIMIT_ANONYMOUS_PER_MINUTE', 120, 1, 1_000_000),
      adminPerMinute: read.int('RATE_LIMIT_ADMIN_PER_MINUTE', 600, 1, 1_000_000),
      apiKeyPerMinute: read.int('RATE_LIMIT_API_KEY_PER_MINUTE', 6_000, 1, 10_000_000),
      authPerMinute: read.int('RATE_LIMIT_AUTH_PER_MINUTE', 20, 1, 1_000_000),
      validatePerMinute: read.int('RATE_LIMIT_VALIDATE_PER_MINUTE', 6_000, 1, 100_000_000),
    },
    redis: {
      url: redisUrl,
      commandTimeoutMs: read.int('REDIS_TIMEOUT_MS', 250, 10, 10_000),
      retryIntervalMs: read.int('REDIS_RETRY_INTERVAL_MS', 1_000, 100, 60_000),
      keyPrefix: read.string('REDIS_KEY_PREFIX', 'tessera:'),
    },
    dataDir,
    log: { level: read.oneOf('LOG_LEVEL', LOG_LEVELS, 'info') },
    telemetry: {
      otlpEndpoint,
      serviceName: read.string('OTEL_SERVICE_NAME', 'tessera'),
    },
    metrics,
    signing,
    webhooks,
    reports: readReports(read, problems, cwd),
  };
  if (config.reports.exportConcurrency >= config.database.poolSize) {
    problems.push(
      'EXPORT_CONCURRENCY: must be less than DATABASE_POOL_SIZE (each export holds a connection of the pool)',
    );
  }

  const missingSecrets = read.missingSecrets;
  if (missingSecrets.length > 0) {
    if (nodeEnv === 'production') {
      for (const name of missingSecrets) {
        problems.push(
          `${name}: required in production (at least ${SECRET_MIN_BYTES} bytes, or ${name}_FILE)`,
        );
      }
    } else if (problems.length === 0) {
      // Outside production a fresh checkout must start with no configuration: generate the missing
      // secrets once and keep them beside the embedded database, readable by this user only.
      const generated = developmentSecrets(dataDir);
      Object.assign(config.secrets, pick(generated, missingSecrets));
    }
  }

  if (problems.length > 0) {
    throw new ConfigError(problems);
  }
  return deepFreeze(config);
}

function readReports(read: EnvReader, problems: string[], cwd: string): AppConfig['reports'] {
  const geoipFile = read.optional('GEOIP_DB_FILE');
  const geoipDbFile = geoipFile === undefined ? undefined : resolve(cwd, geoipFile);
  if (geoipDbFile !== undefined && !existsSync(geoipDbFile)) {
    problems.push(`GEOIP_DB_FILE: ${geoipDbFile} does not exist`);
  } else if (geoipDbFile !== undefined) {
    try {
      // What GeoIp.open does at boot: the file must parse as a MaxMind database.
      new Reader(readFileSync(geoipDbFile));
    } catch (error) {
      problems.push(
        `GEOIP_DB_FILE: ${geoipDbFile} is not a MaxMind database (${(error as Error).message})`,
      );
    }
  }
  const rawRetentionDays = read.int('REPORTS_RAW_RETENTION_DAYS', 30, 0, 3_650);
  const rollupRetentionDays = read.int('REPORTS_ROLLUP_RETENTION_DAYS', 730, 1, 36_500);
  if (rollupRetentionDays < rawRetentionDays) {
    problems.push(
      'REPORTS_ROLLUP_RETENTION_DAYS: must be at least REPORTS_RAW_RETENTION_DAYS (rollups outlive raw rows)',
    );
  }
  return {
    trackValidations: read.bool('REPORTS_TRACK_VALIDATIONS', true),
    rawRetentionDays,
    rollupRetentionDays,
    geoipDbFile,
    exportConcurrency: read.int('EXPORT_CONCURRENCY', 2, 1, 64),
  };
}

function readTls(read: EnvReader, problems: string[], cwd: string): AppConfig['http']['tls'] {
  const certFile = read.optional('TLS_CERT_FILE');
  const keyFile = read.optional('TLS_KEY_FILE');
  const reloadIntervalMs = read.int('TLS_RELOAD_INTERVAL_MS', 5_000, 100, 3_600_000);
  if (certFile === undefined && keyFile === undefined) {
    return undefined;
  }
  if (certFile === undefined || keyFile === undefined) {
    problems.push(
      `${certFile === undefined ? 'TLS_CERT_FILE' : 'TLS_KEY_FILE'}: required together with ` +
        `${certFile === undefined ? 'TLS_KEY_FILE' : 'TLS_CERT_FILE'}`,
    );
    return undefined;
  }
  const files = { certFile: resolve(cwd, certFile), keyFile: resolve(cwd, keyFile) };
  try {
    readTlsPair(files);
  } catch (error) {
    if (!(error instanceof TlsPairError)) {
      throw error;
    }
    problems.push(error.message);
  }
  return { ...files, reloadIntervalMs };
}

const HOUR = 3_600;
const DAY = 86_400;

function readSigning(read: EnvReader, problems: string[]): AppConfig['signing'] {
  const modulePath = read.optional('PKCS11_MODULE');
  const backend = read.oneOf(
    'SIGNING_BACKEND',
    ['software', 'pkcs11'] as const,
    modulePath === undefined ? 'software' : 'pkcs11',
  );
  let pkcs11: AppConfig['signing']['pkcs11'];
  if (backend === 'pkcs11') {
    const tokenLabel = read.optional('PKCS11_TOKEN_LABEL');
    const pin = read.optionalSecret('PKCS11_PIN');
    if (modulePath === undefined) {
      problems.push(
        'PKCS11_MODULE: required when SIGNING_BACKEND=pkcs11 (path of the PKCS#11 library)',
      );
    } else if (!existsSync(modulePath)) {
      problems.push(`PKCS11_MODULE: "${modulePath}" does not exist`);
    }
    if (tokenLabel === undefined) {
      problems.push('PKCS11_TOKEN_LABEL: required when SIGNING_BACKEND=pkcs11');
    }
    if (pin === undefined) {
      problems.push('PKCS11_PIN: required when SIGNING_BACKEND=pkcs11 (or PKCS11_PIN_FILE)');
    }
    pkcs11 = {
      modulePath: modulePath ?? '',
      tokenLabel: tokenLabel ?? '',
      pin: pin ?? '',
      poolSize: read.int('PKCS11_POOL_SIZE', 4, 1, 64),
      signMode: read.oneOf('PKCS11_SIGN_MODE', ['auto', 'sync', 'async'] as const, 'auto'),
    };
  }
  const defaultTtl = read.int('LICENSE_FILE_TTL_SECONDS', 30 * DAY, HOUR, 10 * 365 * DAY);
  const maxTtl = read.int('LICENSE_FILE_MAX_TTL_SECONDS', 365 * DAY, HOUR, 10 * 365 * DAY);
  if (defaultTtl > maxTtl) {
    problems.push('LICENSE_FILE_TTL_SECONDS: must not exceed LICENSE_FILE_MAX_TTL_SECONDS');
  }
  const retiredKeyPublishDays = read.int('SIGNING_RETIRED_KEY_PUBLISH_DAYS', 365, 0, 3_650);
  if (retiredKeyPublishDays * DAY < maxTtl) {
    // A license file must stay verifiable for its whole life, even if its key is retired the day after.
    problems.push(
      `SIGNING_RETIRED_KEY_PUBLISH_DAYS: ${retiredKeyPublishDays} days is shorter than LICENSE_FILE_MAX_TTL_SECONDS ` +
        `(${maxTtl} s): files signed just before a retirement would stop verifying before they expire`,
    );
  }
  return {
    backend,
    pkcs11,
    algorithm: read.oneOf('SIGNING_ALGORITHM', ['EdDSA', 'ES256'] as const, 'EdDSA'),
    retiredKeyPublishDays,
    keyRingRefreshSeconds: read.int('SIGNING_KEY_RING_REFRESH_SECONDS', 30, 1, 3_600),
    auditCheckpointMinutes: read.int('AUDIT_CHECKPOINT_INTERVAL_MINUTES', 60, 0, 10_080),
    licenseFileTtlSeconds: { default: defaultTtl, max: maxTtl },
    signValidations: read.bool('SIGN_VALIDATIONS', true),
  };
}

function readWebhooks(
  read: EnvReader,
  problems: string[],
  nodeEnv: AppConfig['env'],
): AppConfig['webhooks'] {
  const allowHttp = read.bool('WEBHOOK_ALLOW_HTTP', false);
  if (allowHttp && nodeEnv === 'production') {
    problems.push(
      'WEBHOOK_ALLOW_HTTP: not allowed with NODE_ENV=production (deliveries need https)',
    );
  }
  const connectTimeoutMs = read.int('WEBHOOK_CONNECT_TIMEOUT_MS', 5_000, 100, 60_000);
  const timeoutMs = read.int('WEBHOOK_TIMEOUT_MS', 15_000, 500, 120_000);
  if (connectTimeoutMs > timeoutMs) {
    problems.push('WEBHOOK_CONNECT_TIMEOUT_MS: must not exceed WEBHOOK_TIMEOUT_MS');
  }
  return {
    dispatcherEnabled: read.bool('WEBHOOK_DISPATCHER_ENABLED', true),
    allowHttp,
    allowedAddresses: read.cidrs('WEBHOOK_ALLOWED_ADDRESSES'),
    connectTimeoutMs,
    timeoutMs,
    pollIntervalMs: read.int('WEBHOOK_POLL_INTERVAL_MS', 1_000, 50, 60_000),
    concurrency: read.int('WEBHOOK_CONCURRENCY', 16, 1, 256),
    endpointConcurrency: read.int('WEBHOOK_ENDPOINT_CONCURRENCY', 4, 1, 256),
    secretOverlapHours: read.int('WEBHOOK_SECRET_OVERLAP_HOURS', 24, 0, 720),
    disableAfterDays: read.int('WEBHOOK_DISABLE_AFTER_DAYS', 5, 1, 90),
    retentionDays: read.int('WEBHOOK_RETENTION_DAYS', 30, 1, 3_650),
  };
}

const METRICS_TOKEN_MIN_BYTES = 32;

function readMetrics(read: EnvReader, problems: string[], httpPort: number): AppConfig['metrics'] {
  const port =
    read.optional('METRICS_PORT') === undefined ? undefined : read.int('METRICS_PORT', 0, 0, 65535);
  const host = read.string('METRICS_HOST', '127.0.0.1');
  if (host !== 'localhost' && isIP(host) === 0) {
    problems.push(`METRICS_HOST: "${host}" is not an IP address or "localhost"`);
  }
  const tokenText = read.optionalSecret('METRICS_TOKEN');
  const token = tokenText === undefined ? undefined : Buffer.from(tokenText, 'utf8');
  if (token !== undefined && token.length < METRICS_TOKEN_MIN_BYTES) {
    problems.push(
      `METRICS_TOKEN: must be at least ${METRICS_TOKEN_MIN_BYTES} bytes (got ${token.length})`,
    );
  }
  if (port === undefined) {
    // Settings for a listener that does not exist: the operator believes metrics are on (or protected).
    for (const name of ['METRICS_HOST', 'METRICS_TOKEN', 'METRICS_TOKEN_FILE']) {
      if (read.optional(name) !== undefined) {
        problems.push(`${name}: has no effect without METRICS_PORT (metrics are off)`);
      }
    }
  } else {
    if (port !== 0 && port === httpPort) {
      problems.push(
        `METRICS_PORT: ${port} is the API's PORT; metrics need a listener of their own`,
      );
    }
    if (token === undefined && !isLoopback(host)) {
      // Beyond this host (a pod network) the listener needs a credential: the network is no boundary.
      problems.push(
        `METRICS_TOKEN: required when METRICS_HOST (${host}) is not a loopback address (or METRICS_TOKEN_FILE)`,
      );
    }
  }
  return {
    port,
    host,
    token,
    refreshSeconds: read.int('METRICS_REFRESH_SECONDS', 15, 1, 3_600),
  };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

const SECRET_KEYS = {
  JWT_SECRET: 'jwt',
  ENCRYPTION_KEY: 'encryption',
  HASHING_KEY: 'hashing',
} as const;

function pick(
  generated: Record<string, string>,
  names: readonly string[],
): Partial<AppConfig['secrets']> {
  const out: Record<string, Buffer> = {};
  for (const name of names) {
    const key = SECRET_KEYS[name as keyof typeof SECRET_KEYS];
    out[key] = Buffer.from(generated[name], 'base64');
  }
  return out;
}

function developmentSecrets(dataDir: string): Record<string, string> {
  const file = join(dataDir, 'development-secrets.json');
  const stored = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>)
    : {};
  const missing = Object.keys(SECRET_KEYS).filter((name) => stored[name] === undefined);
  if (missing.length === 0) {
    return stored;
  }
  for (const name of missing) {
    stored[name] = randomBytes(32).toString('base64');
  }
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, JSON.stringify(stored, null, 2), { mode: 0o600 });
  chmodSync(file, 0o600);
  return stored;
}

class EnvReader {
  readonly missingSecrets: string[] = [];

  constructor(
    private readonly env: Env,
    private readonly problems: string[],
  ) {}

  optional(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  }

  string(name: string, fallback: string): string {
    return this.optional(name) ?? fallback;
  }

  list(name: string): string[] {
    const value = this.optional(name);
    return value === undefined
      ? []
      : value
          .split(',')
          .map((v) => v.trim())
          .filter((v) => v !== '');
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const raw = this.optional(name);
    if (raw === undefined) {
      return fallback;
    }
    const value = Number(raw);
    if (!/^-?\d+$/.test(raw) || value < min || value > max) {
      this.problems.push(`${name}: "${raw}" is not a whole number from ${min} to ${max}`);
      return fallback;
    }
    return value;
  }

  bool(name: string, fallback: boolean): boolean {
    const raw = this.optional(name)?.toLowerCase();
    if (raw === undefined) {
      return fallback;
    }
    if (['true', '1', 'yes', 'on'].includes(raw)) {
      return true;
    }
    if (['false', '0', 'no', 'off'].includes(raw)) {
      return false;
    }
    this.problems.push(`${name}: "${raw}" is not a boolean (true/false)`);
    return fallback;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const raw = this.optional(name);
    if (raw === undefined) {
      return fallback;
    }
    if (!(allowed as readonly string[]).includes(raw)) {
      this.problems.push(`${name}: "${raw}" is not one of ${allowed.join(', ')}`);
      return fallback;
    }
    return raw as T;
  }

  /** false | true | hop count | comma-separated addresses/CIDRs of trusted proxies. */
  trustProxy(name: string): boolean | number | string[] {
    const raw = this.optional(name);
    if (raw === undefined || raw === 'false') {
      return false;
    }
    if (raw === 'true') {
      return true;
    }
    if (/^\d+$/.test(raw)) {
      return Number(raw);
    }
    const entries = raw.split(',').map((v) => v.trim());
    const bad = entries.filter((entry) => isIP(entry.split('/')[0]) === 0);
    if (bad.length > 0) {
      this.problems.push(
        `${name}: ${bad.map((b) => `"${b}"`).join(', ')} not an IP address or CIDR`,
      );
      return false;
    }
    return entries;
  }

  /** A credential (such as a PIN) from NAME or from the file NAME_FILE names, of any length. */
  optionalSecret(name: string): string | undefined {
    const direct = this.optional(name);
    const file = this.optional(`${name}_FILE`);
    if (direct !== undefined && file !== undefined) {
      this.problems.push(`${name}: set either ${name} or ${name}_FILE, not both`);
      return undefined;
    }
    if (file === undefined) {
      return direct;
    }
    try {
      return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch {
      this.problems.push(`${name}_FILE: cannot read "${file}"`);
      return undefined;
    }
  }

  /** Comma-separated IP addresses or CIDR blocks, normalised to `address/prefix`. */
  cidrs(name: string): string[] {
    const entries = this.list(name);
    const bad: string[] = [];
    const out: string[] = [];
    for (const entry of entries) {
      const [address, prefix, extra] = entry.split('/');
      const family = isIP(address);
      const max = family === 6 ? 128 : 32;
      const bits = prefix === undefined ? max : /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
      if (family === 0 || extra !== undefined || !(bits >= 0 && bits <= max)) {
        bad.push(`"${entry}"`);
      } else {
        out.push(`${address}/${bits}`);
      }
    }
    if (bad.length > 0) {
      this.problems.push(`${name}: ${bad.join(', ')} not an IP address or CIDR`);
    }
    return out;
  }

  /** A secret from NAME or from the file NAME_FILE names (Docker/Kubernetes secrets), at least 32 bytes. */
  secret(name: string): Buffer {
    const direct = this.optional(name);
    const file = this.optional(`${name}_FILE`);
    if (direct !== undefined && file !== undefined) {
      this.problems.push(`${name}: set either ${name} or ${name}_FILE, not both`);
      return Buffer.alloc(0);
    }
    let value = direct;
    if (file !== undefined) {
      try {
        value = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
      } catch {
        this.problems.push(`${name}_FILE: cannot read "${file}"`);
        return Buffer.alloc(0);
      }
    }
    if (value === undefined) {
      this.missingSecrets.push(name);
      return Buffer.alloc(0);
    }
    const bytes = Buffer.from(value, 'utf8');
    if (bytes.length < SECRET_MIN_BYTES) {
      this.problems.push(
        `${name}: must be at least ${SECRET_MIN_BYTES} bytes (got ${bytes.length})`,
      );
    }
    return bytes;
  }
}

function isPostgresUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'postgres:' || url.protocol === 'postgresql:') && url.hostname !== '';
  } catch {
    return false;
  }
}

function isRedisUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'redis:' || url.protocol === 'rediss:') && url.hostname !== '';
  } catch {
    return false;
  }
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return url.origin === value;
  } catch {
    return false;
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value)) {
    for (const child of Object.values(value)) {
      deepFreeze(child);
    }
    Object.freeze(value);
  }
  return value;
}
