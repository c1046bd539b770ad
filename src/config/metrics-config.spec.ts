import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { loadConfig } from 'src/config/app-config';
import { problemsOf, SECRETS, tempDir } from 'test/support/config-env';

describe('metrics configuration', () => {
  const TOKEN = 'metrics-token-0123456789abcdef0123456789';

  it('is off by default: no port, loopback host, no token', () => {
    const config = loadConfig({ DATA_DIR: tempDir(), ...SECRETS }, '/srv/tessera');
    expect(config.metrics).toEqual({
      port: undefined,
      host: '127.0.0.1',
      token: undefined,
      refreshSeconds: 15,
    });
  });

  it('serves on loopback without a token, and elsewhere with one (direct or from a file)', () => {
    const loopback = loadConfig(
      { DATA_DIR: tempDir(), ...SECRETS, METRICS_PORT: '9464' },
      '/srv/tessera',
    );
    expect(loopback.metrics).toMatchObject({ port: 9464, host: '127.0.0.1', token: undefined });

    const dir = tempDir();
    writeFileSync(join(dir, 'token'), `${TOKEN}\n`);
    const pod = loadConfig(
      {
        DATA_DIR: dir,
        ...SECRETS,
        METRICS_PORT: '9464',
        METRICS_HOST: '0.0.0.0',
        METRICS_TOKEN_FILE: join(dir, 'token'),
        METRICS_REFRESH_SECONDS: '60',
      },
      '/srv/tessera',
    );
    expect(pod.metrics).toMatchObject({ port: 9464, host: '0.0.0.0', refreshSeconds: 60 });
    expect(pod.metrics.token?.toString()).toBe(TOKEN);
  });

  it('requires a token off loopback, a port of its own, and a long token', () => {
    expect(problemsOf({ ...SECRETS, METRICS_PORT: '9464', METRICS_HOST: '::' })).toEqual([
      'METRICS_TOKEN: required when METRICS_HOST (::) is not a loopback address (or METRICS_TOKEN_FILE)',
    ]);
    expect(
      problemsOf({
        ...SECRETS,
        PORT: '8080',
        METRICS_PORT: '8080',
        METRICS_HOST: 'metrics.internal',
        METRICS_TOKEN: 'short',
        METRICS_REFRESH_SECONDS: '0',
      }),
    ).toEqual([
      'METRICS_HOST: "metrics.internal" is not an IP address or "localhost"',
      'METRICS_TOKEN: must be at least 32 bytes (got 5)',
      "METRICS_PORT: 8080 is the API's PORT; metrics need a listener of their own",
      'METRICS_REFRESH_SECONDS: "0" is not a whole number from 1 to 3600',
    ]);
  });

  it('refuses metrics settings without METRICS_PORT, which would suggest metrics are on', () => {
    expect(problemsOf({ ...SECRETS, METRICS_HOST: '0.0.0.0', METRICS_TOKEN: TOKEN })).toEqual([
      'METRICS_HOST: has no effect without METRICS_PORT (metrics are off)',
      'METRICS_TOKEN: has no effect without METRICS_PORT (metrics are off)',
    ]);
  });
});
