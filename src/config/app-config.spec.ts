import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { ConfigError, loadConfig } from 'src/config/app-config';
import { problemsOf, SECRETS, tempDir } from 'test/support/config-env';
import { writeCountryMmdb } from 'test/support/mmdb-writer';
import { opensslCertificate } from 'test/support/tls';

describe('loadConfig', () => {
  it('starts with no configuration at all outside production, on safe defaults', () => {
    const dataDir = tempDir();
    const config = loadConfig({ DATA_DIR: dataDir }, '/srv/tessera');
    expect(config.env).toBe('development');
    expect(config.http).toMatchObject({
      host: '127.0.0.1',
      port: 3000,
      corsOrigins: [],
      trustProxy: false,
    });
    expect(config.database).toMatchObject({ url: undefined, migrateOnBoot: true, poolSize: 10 });
    expect(config.database.embedded.dir).toBe(join(dataDir, 'postgres'));
    expect(config.telemetry.otlpEndpoint).toBeUndefined();
    expect(Object.isFrozen(config.http)).toBe(true);
  });

  it('generates missing development secrets once, readable by the owner only, and reuses them', () => {
    const dataDir = tempDir();
    const first = loadConfig({ DATA_DIR: dataDir }, '/');
    const second = loadConfig({ DATA_DIR: dataDir }, '/');
    expect(first.secrets.jwt.length).toBe(32);
    expect(first.secrets.jwt.equals(second.secrets.jwt)).toBe(true);
    expect(first.secrets.jwt.equals(first.secrets.hashing)).toBe(false);
    const file = join(dataDir, 'development-secrets.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(Object.keys(JSON.parse(readFileSync(file, 'utf8')) as object).sort()).toEqual([
      'ENCRYPTION_KEY',
      'HASHING_KEY',
      'JWT_SECRET',
    ]);
  });

  it('prefers configured secrets over generated ones', () => {
    const config = loadConfig({ DATA_DIR: tempDir(), ...SECRETS }, '/');
    expect(config.secrets.jwt.toString()).toBe(SECRETS.JWT_SECRET);
  });

  it('requires every secret in production, naming each one', () => {
    const problems = problemsOf({ NODE_ENV: 'production', TLS_TERMINATED_BY_PROXY: 'true' });
    expect(problems).toEqual([
      expect.stringMatching(/^JWT_SECRET: required in production/),
      expect.stringMatching(/^ENCRYPTION_KEY: required in production/),
      expect.stringMatching(/^HASHING_KEY: required in production/),
    ]);
  });

  it('reads a secret from NAME_FILE, without its trailing newline', () => {
    const file = join(tempDir(), 'jwt');
    writeFileSync(file, `${'s'.repeat(40)}\n`);
    const config = loadConfig(
      { ...SECRETS, JWT_SECRET: '', JWT_SECRET_FILE: file, DATA_DIR: tempDir() },
      '/',
    );
    expect(config.secrets.jwt.toString()).toBe('s'.repeat(40));
  });

  it('rejects a short secret, an unreadable secret file, and a secret given twice', () => {
    const problems = problemsOf({
      ...SECRETS,
      JWT_SECRET: 'ten-bytes!',
      ENCRYPTION_KEY_FILE: '/nonexistent/secret',
      ENCRYPTION_KEY: '',
      HASHING_KEY_FILE: '/etc/hostname',
    });
    expect(problems).toEqual([
      'JWT_SECRET: must be at least 32 bytes (got 10)',
      'ENCRYPTION_KEY_FILE: cannot read "/nonexistent/secret"',
      'HASHING_KEY: set either HASHING_KEY or HASHING_KEY_FILE, not both',
    ]);
  });

  it('lists every bad variable at once', () => {
    const problems = problemsOf({
      ...SECRETS,
      DATABASE_URL: 'mysql://nope',
      PORT: 'eighty',
      NODE_ENV: 'staging',
      LOG_LEVEL: 'loud',
      DATABASE_POOL_SIZE: '0',
      DATABASE_MIGRATE_ON_BOOT: 'maybe',
      HOST: 'not a host',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318',
      TRUST_PROXY: '10.0.0.0/8,proxy.local',
    });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(
      [
        'DATABASE_URL',
        'PORT',
        'NODE_ENV',
        'LOG_LEVEL',
        'DATABASE_POOL_SIZE',
        'DATABASE_MIGRATE_ON_BOOT',
        'HOST',
        'OTEL_EXPORTER_OTLP_ENDPOINT',
        'TRUST_PROXY',
      ].sort(),
    );
  });

  it('takes a migration URL beside DATABASE_URL only, and checks its form', () => {
    expect(
      problemsOf({ ...SECRETS, DATABASE_MIGRATION_URL: 'postgres://owner@db/tessera' }),
    ).toEqual(['DATABASE_MIGRATION_URL: only used together with DATABASE_URL']);
    expect(
      problemsOf({
        ...SECRETS,
        DATABASE_URL: 'postgres://app@db/tessera',
        DATABASE_MIGRATION_URL: 'owner@db',
      }),
    ).toEqual(['DATABASE_MIGRATION_URL: must be a postgres:// or postgresql:// URL with a host']);
    const config = loadConfig(
      {
        ...SECRETS,
        DATABASE_URL: 'postgres://app@db/tessera',
        DATABASE_MIGRATION_URL: 'postgres://owner@db/tessera',
      },
      '/srv',
    );
    expect(config.database).toMatchObject({
      url: 'postgres://app@db/tessera',
      migrationUrl: 'postgres://owner@db/tessera',
    });
  });

  it('refuses a wildcard CORS origin with credentials, and malformed origins', () => {
    expect(problemsOf({ ...SECRETS, CORS_ORIGINS: '*', CORS_CREDENTIALS: 'true' })).toEqual([
      'CORS_ORIGINS: a wildcard origin cannot be combined with CORS_CREDENTIALS=true',
    ]);
    expect(
      problemsOf({ ...SECRETS, CORS_ORIGINS: 'https://ok.example, app.example.com/path' }),
    ).toEqual(['CORS_ORIGINS: "app.example.com/path" is not an origin (scheme://host[:port])']);
  });

  it('accepts an explicit CORS allow-list and trusted proxies', () => {
    const config = loadConfig(
      {
        ...SECRETS,
        DATA_DIR: tempDir(),
        CORS_ORIGINS: 'https://a.example, https://b.example:8443',
        TRUST_PROXY: '10.0.0.0/8, 127.0.0.1',
      },
      '/',
    );
    expect(config.http.corsOrigins).toEqual(['https://a.example', 'https://b.example:8443']);
    expect(config.http.trustProxy).toEqual(['10.0.0.0/8', '127.0.0.1']);
    expect(
      loadConfig({ ...SECRETS, DATA_DIR: tempDir(), TRUST_PROXY: '2' }, '/').http.trustProxy,
    ).toBe(2);
  });

  it('does not generate secrets when the configuration is invalid anyway', () => {
    const dataDir = tempDir();
    expect(() => loadConfig({ DATA_DIR: dataDir, PORT: '-1' }, '/')).toThrow(ConfigError);
    expect(() => statSync(join(dataDir, 'development-secrets.json'))).toThrow();
  });

  it('signs in software by default, and with an HSM once PKCS11_MODULE is set', () => {
    expect(loadConfig({ DATA_DIR: tempDir(), ...SECRETS }, '/').signing).toMatchObject({
      backend: 'software',
      pkcs11: undefined,
      algorithm: 'EdDSA',
      signValidations: true,
    });
    const pinFile = join(tempDir(), 'pin');
    writeFileSync(pinFile, '123456\n');
    const hsm = loadConfig(
      {
        DATA_DIR: tempDir(),
        ...SECRETS,
        PKCS11_MODULE: pinFile, // any existing file stands in for the library here
        PKCS11_TOKEN_LABEL: 'tessera',
        PKCS11_PIN_FILE: pinFile,
        PKCS11_SIGN_MODE: 'sync',
      },
      '/',
    ).signing;
    expect(hsm).toMatchObject({
      backend: 'pkcs11',
      pkcs11: {
        modulePath: pinFile,
        tokenLabel: 'tessera',
        pin: '123456',
        poolSize: 4,
        signMode: 'sync',
      },
    });
  });

  it('names every missing or wrong HSM setting, and inconsistent signing periods', () => {
    const problems = problemsOf({
      ...SECRETS,
      SIGNING_BACKEND: 'pkcs11',
      PKCS11_POOL_SIZE: '0',
      PKCS11_SIGN_MODE: 'sometimes',
      SIGNING_ALGORITHM: 'RS256',
      SIGNING_RETIRED_KEY_PUBLISH_DAYS: '30',
      LICENSE_FILE_TTL_SECONDS: '60',
    });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual([
      'LICENSE_FILE_TTL_SECONDS',
      'PKCS11_MODULE',
      'PKCS11_PIN',
      'PKCS11_POOL_SIZE',
      'PKCS11_SIGN_MODE',
      'PKCS11_TOKEN_LABEL',
      'SIGNING_ALGORITHM',
      'SIGNING_RETIRED_KEY_PUBLISH_DAYS',
    ]);
    expect(problemsOf({ ...SECRETS, PKCS11_MODULE: '/nonexistent/libpkcs11.so' })).toEqual(
      expect.arrayContaining(['PKCS11_MODULE: "/nonexistent/libpkcs11.so" does not exist']),
    );
  });
});

describe('webhook configuration', () => {
  it('defaults to https only, nothing allow-listed, and a running dispatcher', () => {
    const config = loadConfig({ DATA_DIR: tempDir(), ...SECRETS }, '/');
    expect(config.webhooks).toEqual({
      dispatcherEnabled: true,
      allowHttp: false,
      allowedAddresses: [],
      connectTimeoutMs: 5_000,
      timeoutMs: 15_000,
      pollIntervalMs: 1_000,
      concurrency: 16,
      endpointConcurrency: 4,
      secretOverlapHours: 24,
      disableAfterDays: 5,
      retentionDays: 30,
    });
  });

  it('reads the SSRF allow-list as address/prefix entries', () => {
    const config = loadConfig(
      {
        DATA_DIR: tempDir(),
        ...SECRETS,
        WEBHOOK_ALLOW_HTTP: 'true',
        WEBHOOK_ALLOWED_ADDRESSES: '127.0.0.1, 10.20.0.0/16,fd00::/8,::1',
      },
      '/',
    );
    expect(config.webhooks.allowHttp).toBe(true);
    expect(config.webhooks.allowedAddresses).toEqual([
      '127.0.0.1/32',
      '10.20.0.0/16',
      'fd00::/8',
      '::1/128',
    ]);
  });

  it('serves the OpenAPI document and /docs unless OPENAPI_DOCS_ENABLED=false, in every environment', () => {
    const load = (env: Record<string, string>) =>
      loadConfig({ DATA_DIR: tempDir(), ...env }, '/srv/tessera').http.openApiDocs;
    expect(load({})).toBe(true);
    expect(load({ NODE_ENV: 'test', OPENAPI_DOCS_ENABLED: 'false' })).toBe(false);
    expect(problemsOf({ ...SECRETS, OPENAPI_DOCS_ENABLED: 'maybe' })).toEqual([
      'OPENAPI_DOCS_ENABLED: "maybe" is not a boolean (true/false)',
    ]);
  });

  it('serves the console from its build unless CONSOLE_ENABLED=false; CONSOLE_DIR moves it', () => {
    const load = (env: Record<string, string>) =>
      loadConfig({ DATA_DIR: tempDir(), ...env }, '/srv/tessera').console;
    expect(load({})).toEqual({ enabled: true, dir: undefined });
    expect(load({ CONSOLE_ENABLED: 'false', CONSOLE_DIR: 'web' })).toEqual({
      enabled: false,
      dir: '/srv/tessera/web',
    });
    expect(problemsOf({ ...SECRETS, CONSOLE_ENABLED: 'sometimes' })).toEqual([
      'CONSOLE_ENABLED: "sometimes" is not a boolean (true/false)',
    ]);
  });

  it('names every bad webhook variable', () => {
    const problems = problemsOf({
      ...SECRETS,
      WEBHOOK_ALLOWED_ADDRESSES: '10.0.0.0/33,example.com,1.2.3.4/8/1',
      WEBHOOK_CONNECT_TIMEOUT_MS: '20000',
      WEBHOOK_TIMEOUT_MS: '10000',
      WEBHOOK_CONCURRENCY: '0',
      WEBHOOK_DISPATCHER_ENABLED: 'sometimes',
      WEBHOOK_RETENTION_DAYS: '-1',
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        'WEBHOOK_ALLOWED_ADDRESSES: "10.0.0.0/33", "example.com", "1.2.3.4/8/1" not an IP address or CIDR',
        'WEBHOOK_CONNECT_TIMEOUT_MS: must not exceed WEBHOOK_TIMEOUT_MS',
        'WEBHOOK_CONCURRENCY: "0" is not a whole number from 1 to 256',
        'WEBHOOK_DISPATCHER_ENABLED: "sometimes" is not a boolean (true/false)',
        'WEBHOOK_RETENTION_DAYS: "-1" is not a whole number from 1 to 3650',
      ]),
    );
    expect(problems).toHaveLength(5);
  });

  it('refuses plain-http webhooks in production', () => {
    expect(
      problemsOf({
        ...SECRETS,
        NODE_ENV: 'production',
        TLS_TERMINATED_BY_PROXY: 'true',
        WEBHOOK_ALLOW_HTTP: 'true',
      }),
    ).toEqual(['WEBHOOK_ALLOW_HTTP: not allowed with NODE_ENV=production (deliveries need https)']);
  });

  it('reads DATABASE_URL from DATABASE_URL_FILE, and refuses both at once', () => {
    const file = join(tempDir(), 'database-url');
    writeFileSync(file, 'postgres://tessera:s3cret@db.internal:5432/tessera\n');
    const config = loadConfig({ ...SECRETS, DATA_DIR: tempDir(), DATABASE_URL_FILE: file }, '/');
    expect(config.database.url).toBe('postgres://tessera:s3cret@db.internal:5432/tessera');
    expect(
      problemsOf({ ...SECRETS, DATABASE_URL: 'postgres://a@b/c', DATABASE_URL_FILE: file }),
    ).toEqual(['DATABASE_URL: set either DATABASE_URL or DATABASE_URL_FILE, not both']);
  });

  it('reads REDIS_URL (or REDIS_URL_FILE) and refuses what is not a redis:// URL', () => {
    const unset = loadConfig({ ...SECRETS, DATA_DIR: tempDir() }, '/');
    expect(unset.redis).toMatchObject({ url: undefined, commandTimeoutMs: 250 });
    const file = join(tempDir(), 'redis-url');
    writeFileSync(file, 'redis://:s3cret@cache.internal:6379/2\n');
    const config = loadConfig({ ...SECRETS, DATA_DIR: tempDir(), REDIS_URL_FILE: file }, '/');
    expect(config.redis.url).toBe('redis://:s3cret@cache.internal:6379/2');
    expect(
      problemsOf({ ...SECRETS, REDIS_URL: 'http://cache:6379', REDIS_TIMEOUT_MS: '5' }),
    ).toEqual([
      'REDIS_URL: must be a redis:// or rediss:// URL with a host',
      'REDIS_TIMEOUT_MS: "5" is not a whole number from 10 to 10000',
    ]);
    expect(problemsOf({ ...SECRETS, REDIS_URL: 'redis://a', REDIS_URL_FILE: file })).toEqual([
      'REDIS_URL: set either REDIS_URL or REDIS_URL_FILE, not both',
    ]);
  });

  describe('TLS', () => {
    it('serves HTTPS with a certificate and key that belong together, resolved against the working directory', () => {
      const { certFile, keyFile } = opensslCertificate();
      const config = loadConfig(
        { ...SECRETS, DATA_DIR: tempDir(), TLS_CERT_FILE: certFile, TLS_KEY_FILE: keyFile },
        '/',
      );
      expect(config.http.tls).toEqual({ certFile, keyFile, reloadIntervalMs: 5_000 });
      expect(config.http.tlsTerminatedByProxy).toBe(false);
    });

    it('names the variable at fault: a missing partner, an unreadable file, no PEM, a foreign key', () => {
      const a = opensslCertificate('a.test');
      const b = opensslCertificate('b.test');
      expect(problemsOf({ ...SECRETS, TLS_CERT_FILE: a.certFile })).toEqual([
        'TLS_KEY_FILE: required together with TLS_CERT_FILE',
      ]);
      expect(
        problemsOf({ ...SECRETS, TLS_CERT_FILE: '/nonexistent/tls.crt', TLS_KEY_FILE: a.keyFile }),
      ).toEqual([expect.stringMatching(/^TLS_CERT_FILE: cannot read "\/nonexistent\/tls.crt"/)]);
      expect(problemsOf({ ...SECRETS, TLS_CERT_FILE: a.keyFile, TLS_KEY_FILE: a.keyFile })).toEqual(
        [`TLS_CERT_FILE: "${a.keyFile}" holds no PEM certificate`],
      );
      expect(
        problemsOf({ ...SECRETS, TLS_CERT_FILE: a.certFile, TLS_KEY_FILE: a.certFile }),
      ).toEqual([`TLS_KEY_FILE: "${a.certFile}" holds no unencrypted PEM private key`]);
      expect(
        problemsOf({ ...SECRETS, TLS_CERT_FILE: a.certFile, TLS_KEY_FILE: b.keyFile }),
      ).toEqual([
        `TLS_KEY_FILE: "${b.keyFile}" is not the private key of the certificate in "${a.certFile}"`,
      ]);
      expect(problemsOf({ ...SECRETS, TLS_RELOAD_INTERVAL_MS: '10' })).toEqual([
        'TLS_RELOAD_INTERVAL_MS: "10" is not a whole number from 100 to 3600000',
      ]);
    });

    it('refuses plain HTTP in production unless TLS ends at a proxy the operator names', () => {
      const production = { ...SECRETS, NODE_ENV: 'production' };
      expect(problemsOf(production)).toEqual([
        expect.stringMatching(/^TLS_CERT_FILE: NODE_ENV=production refuses plain HTTP/),
      ]);
      const { certFile, keyFile } = opensslCertificate();
      const boots = (env: Record<string, string>) =>
        loadConfig({ ...production, DATA_DIR: tempDir(), ...env }, '/');
      expect(boots({ TLS_CERT_FILE: certFile, TLS_KEY_FILE: keyFile }).http.tls).toBeDefined();
      expect(boots({ TRUST_PROXY: '10.0.0.0/8' }).http.trustProxy).toEqual(['10.0.0.0/8']);
      expect(boots({ TLS_TERMINATED_BY_PROXY: 'true' }).http.tlsTerminatedByProxy).toBe(true);
    });
  });
});

describe('reports configuration', () => {
  it('counts validations, keeps raw rows 30 days and rollups two years, with no GeoIP by default', () => {
    const config = loadConfig({ ...SECRETS, DATA_DIR: tempDir() });
    expect(config.reports).toEqual({
      trackValidations: true,
      rawRetentionDays: 30,
      rollupRetentionDays: 730,
      geoipDbFile: undefined,
      exportConcurrency: 2,
    });
  });

  it('opens a MaxMind database given as GEOIP_DB_FILE, resolved against the working directory', () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'countries.mmdb'),
      writeCountryMmdb([{ network: '81.2.69.0/24', isoCode: 'GB' }]),
    );
    const config = loadConfig(
      { ...SECRETS, DATA_DIR: tempDir(), GEOIP_DB_FILE: 'countries.mmdb' },
      dir,
    );
    expect(config.reports.geoipDbFile).toBe(join(dir, 'countries.mmdb'));
  });

  it('names every bad reports variable', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'not.mmdb'), 'plain text');
    const problems = problemsOf(
      {
        ...SECRETS,
        REPORTS_TRACK_VALIDATIONS: 'maybe',
        REPORTS_RAW_RETENTION_DAYS: '90',
        REPORTS_ROLLUP_RETENTION_DAYS: '60',
        EXPORT_CONCURRENCY: '0',
        GEOIP_DB_FILE: 'not.mmdb',
      },
      dir,
    );
    expect(problems).toEqual([
      expect.stringMatching(/^GEOIP_DB_FILE: .*not\.mmdb is not a MaxMind database/),
      'REPORTS_ROLLUP_RETENTION_DAYS: must be at least REPORTS_RAW_RETENTION_DAYS (rollups outlive raw rows)',
      'REPORTS_TRACK_VALIDATIONS: "maybe" is not a boolean (true/false)',
      'EXPORT_CONCURRENCY: "0" is not a whole number from 1 to 64',
    ]);
    expect(problemsOf({ ...SECRETS, EXPORT_CONCURRENCY: '4', DATABASE_POOL_SIZE: '4' })).toEqual([
      'EXPORT_CONCURRENCY: must be less than DATABASE_POOL_SIZE (each export holds a connection of the pool)',
    ]);
    expect(problemsOf({ ...SECRETS, GEOIP_DB_FILE: '/nonexistent/countries.mmdb' })).toEqual([
      'GEOIP_DB_FILE: /nonexistent/countries.mmdb does not exist',
    ]);
  });
});
