import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import type { TLSSocket } from 'node:tls';

import { freePort } from 'test/support/global-setup';
import { spawnServer } from 'test/support/server-process';
import type { ServerProcess } from 'test/support/server-process';
import { createTestDatabase } from 'test/support/test-database';
import { TEST_SECRETS } from 'test/support/test-config';
import { opensslCertificate } from 'test/support/tls';

/**
 * A certificate directory laid out the way the kubelet mounts a Secret: the files are symlinks through
 * `..data`, and an update writes a new directory and swaps `..data` in one rename.
 */
class SecretVolume {
  readonly dir = mkdtempSync(join(tmpdir(), 'tessera-secret-'));
  private generation = 0;

  constructor(first: { cert: Buffer; key: Buffer }) {
    this.write(first);
    symlinkSync('..data/tls.crt', join(this.dir, 'tls.crt'));
    symlinkSync('..data/tls.key', join(this.dir, 'tls.key'));
  }

  get certFile(): string {
    return join(this.dir, 'tls.crt');
  }

  get keyFile(): string {
    return join(this.dir, 'tls.key');
  }

  write(files: { cert: Buffer; key: Buffer }): void {
    const previous = this.generation === 0 ? undefined : `..gen${this.generation}`;
    this.generation += 1;
    const next = `..gen${this.generation}`;
    mkdirSync(join(this.dir, next));
    writeFileSync(join(this.dir, next, 'tls.crt'), files.cert);
    writeFileSync(join(this.dir, next, 'tls.key'), files.key);
    symlinkSync(next, join(this.dir, '..data_tmp'));
    renameSync(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
    if (previous !== undefined) {
      rmSync(join(this.dir, previous), { recursive: true });
    }
  }
}

/** The fingerprint of the certificate a new TLS connection is given. */
function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fingerprint);
    });
    socket.once('error', reject);
  });
}

async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error('condition not met in time');
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  fingerprint: string;
  reusedSocket: boolean;
}

/** GET over HTTPS, trusting only `ca`: the certificate must really be valid for 127.0.0.1. */
function get(port: number, path: string, ca: Buffer, agent?: Agent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, ca, agent }, (res) => {
      // Read it now: once the body ends, the socket goes back to the agent (or closes).
      const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
      res.resume();
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          fingerprint,
          reusedSocket: req.reusedSocket,
        }),
      );
    });
    req.once('error', reject);
    req.end();
  });
}

// Each test starts real servers (and the round trip two databases): generous on a loaded CI machine.
jest.setTimeout(180_000);

describe('HTTPS', () => {
  const running: ServerProcess[] = [];
  afterEach(() => {
    for (const server of running.splice(0)) {
      server.child.kill('SIGKILL');
    }
  });

  async function start(
    volume: SecretVolume,
  ): Promise<{ port: number; server: ServerProcess; output: () => string }> {
    const port = await freePort();
    const server = spawnServer({
      ...TEST_SECRETS,
      NODE_ENV: 'production',
      DATABASE_URL: await createTestDatabase(),
      PORT: String(port),
      LOG_LEVEL: 'info',
      TLS_CERT_FILE: volume.certFile,
      TLS_KEY_FILE: volume.keyFile,
      TLS_RELOAD_INTERVAL_MS: '100',
    });
    running.push(server);
    await eventually(() => server.output().includes('Tessera listening on https://'), 60_000);
    return { port, server, output: () => server.output() };
  }

  it('serves HTTPS with HSTS, and new connections get a rotated certificate while open ones carry on', async () => {
    const first = opensslCertificate('first.tessera.test');
    const second = opensslCertificate('second.tessera.test');
    const volume = new SecretVolume(first);
    const { port, output } = await start(volume);

    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const before = await get(port, '/health/live', first.cert, agent);
    expect(before).toMatchObject({ status: 200, fingerprint: first.fingerprint });
    expect(before.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');

    volume.write(second);
    await eventually(async () => (await servedFingerprint(port)) === second.fingerprint);
    expect(output()).toContain(`TLS certificate reloaded from ${volume.certFile}`);
    expect(output()).toContain(second.fingerprint);

    // The keep-alive connection opened before the rotation is not dropped: it goes on with its certificate.
    const sameSocket = await get(port, '/health/live', first.cert, agent);
    expect(sameSocket).toMatchObject({
      status: 200,
      reusedSocket: true,
      fingerprint: first.fingerprint,
    });
    agent.destroy();
    // A new connection is verified against the new certificate.
    await expect(get(port, '/health/live', second.cert)).resolves.toMatchObject({
      status: 200,
      fingerprint: second.fingerprint,
    });
  });

  it('keeps serving the previous certificate when the replacement is broken, and logs why', async () => {
    const good = opensslCertificate('good.tessera.test');
    const stranger = opensslCertificate('stranger.tessera.test');
    const later = opensslCertificate('later.tessera.test');
    const volume = new SecretVolume(good);
    const { port, output } = await start(volume);
    expect(await servedFingerprint(port)).toBe(good.fingerprint);

    // A certificate with somebody else's key, then a file that is no certificate at all.
    volume.write({ cert: later.cert, key: stranger.key });
    await eventually(() => output().includes('TLS certificate reload failed'));
    expect(output()).toContain(`still serving SHA-256 ${good.fingerprint}`);
    expect(output()).toContain('is not the private key of the certificate');
    await expect(get(port, '/health/live', good.cert)).resolves.toMatchObject({
      status: 200,
      fingerprint: good.fingerprint,
    });

    volume.write({ cert: Buffer.from('not a certificate\n'), key: later.key });
    await eventually(() => output().includes('holds no PEM certificate'));
    expect(await servedFingerprint(port)).toBe(good.fingerprint);

    // Once a good pair arrives it is taken.
    volume.write(later);
    await eventually(async () => (await servedFingerprint(port)) === later.fingerprint);
  });

  it('refuses to start on plain HTTP in production, unless TLS ends at a proxy', async () => {
    const refused = spawnServer({ ...TEST_SECRETS, NODE_ENV: 'production', PORT: '0' });
    running.push(refused);
    expect(await refused.exited).toBe(1);
    expect(refused.output()).toContain('TLS_CERT_FILE: NODE_ENV=production refuses plain HTTP');

    const port = await freePort();
    const proxied = spawnServer({
      ...TEST_SECRETS,
      NODE_ENV: 'production',
      DATABASE_URL: await createTestDatabase(),
      PORT: String(port),
      LOG_LEVEL: 'info',
      TLS_TERMINATED_BY_PROXY: 'true',
    });
    running.push(proxied);
    await eventually(() => proxied.output().includes('Tessera listening on http://'), 60_000);
    // Clients reach it over the proxy's HTTPS, so HSTS is sent.
    const response = await fetch(`http://127.0.0.1:${port}/health/live`);
    expect(response.headers.get('strict-transport-security')).toBe(
      'max-age=31536000; includeSubDomains',
    );
  });
});
