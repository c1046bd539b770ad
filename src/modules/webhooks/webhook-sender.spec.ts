import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { AddressPolicy } from 'src/modules/webhooks/webhook-address';
import {
  RESPONSE_LOG_BYTES,
  truncateUtf8,
  WebhookSender,
} from 'src/modules/webhooks/webhook-sender';
import type { Resolver } from 'src/modules/webhooks/webhook-sender';

interface Receiver {
  port: number;
  requests: Array<{ headers: IncomingMessage['headers']; body: string; url: string }>;
  close(): Promise<void>;
}

/** A loopback HTTP server answering with `handler`, recording what it receives. */
async function receiver(handler: (res: ServerResponse) => void): Promise<Receiver> {
  const requests: Receiver['requests'] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      requests.push({ headers: req.headers, body, url: req.url ?? '' });
      handler(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function sender(options: { allowed?: string[]; resolve?: Resolver; timeoutMs?: number } = {}) {
  return new WebhookSender({
    policy: new AddressPolicy(options.allowed ?? ['127.0.0.1/32']),
    allowHttp: true,
    connectTimeoutMs: 1_000,
    timeoutMs: options.timeoutMs ?? 2_000,
    userAgent: 'Tessera-Webhooks/test',
    resolve: options.resolve,
  });
}

const HEADERS = { 'webhook-id': 'msg_1', 'webhook-timestamp': '1', 'webhook-signature': 'v1,x' };

describe('WebhookSender', () => {
  const open: Receiver[] = [];
  const start = async (handler: (res: ServerResponse) => void) => {
    const r = await receiver(handler);
    open.push(r);
    return r;
  };
  afterEach(async () => {
    await Promise.all(open.splice(0).map((r) => r.close()));
  });

  it('POSTs the body with the signature headers and reports the status and the response', async () => {
    const r = await start((res) => res.writeHead(204).end());
    const result = await sender().send(`http://127.0.0.1:${r.port}/hook?x=1`, HEADERS, '{"a":1}');
    expect(result).toMatchObject({
      statusCode: 204,
      errorClass: null,
      error: null,
      responseBody: '',
    });
    expect(r.requests).toHaveLength(1);
    expect(r.requests[0]).toMatchObject({
      url: '/hook?x=1',
      body: '{"a":1}',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Tessera-Webhooks/test',
        'webhook-id': 'msg_1',
        'webhook-signature': 'v1,x',
      },
    });
  });

  it('keeps only the first 2 KB of a large response, and the Retry-After header', async () => {
    const r = await start((res) =>
      res.writeHead(429, { 'retry-after': '30' }).end('é'.repeat(10_000)),
    );
    const result = await sender().send(`http://127.0.0.1:${r.port}/`, HEADERS, '{}');
    expect(result).toMatchObject({ statusCode: 429, retryAfter: '30', errorClass: 'http-status' });
    expect(Buffer.byteLength(result.responseBody!)).toBe(RESPONSE_LOG_BYTES);
    expect(result.responseBody).toBe('é'.repeat(1024));
  });

  it('never follows a redirect', async () => {
    const target = await start((res) => res.writeHead(200).end());
    const r = await start((res) =>
      res.writeHead(302, { location: `http://127.0.0.1:${target.port}/elsewhere` }).end(),
    );
    const result = await sender().send(`http://127.0.0.1:${r.port}/`, HEADERS, '{}');
    expect(result).toMatchObject({ statusCode: 302, errorClass: 'redirect' });
    expect(result.error).toContain('/elsewhere');
    expect(target.requests).toHaveLength(0);
  });

  it('gives up on a receiver that never answers, after the total timeout', async () => {
    const r = await start(() => undefined);
    const started = Date.now();
    const result = await sender({ timeoutMs: 300 }).send(
      `http://127.0.0.1:${r.port}/`,
      HEADERS,
      '{}',
    );
    expect(result).toMatchObject({ statusCode: null, errorClass: 'timeout' });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(result.durationMs).toBeGreaterThanOrEqual(290);
  });

  it('reports a refused connection', async () => {
    const r = await start((res) => res.end());
    const port = r.port;
    await r.close();
    open.length = 0;
    const result = await sender().send(`http://127.0.0.1:${port}/`, HEADERS, '{}');
    expect(result).toMatchObject({ statusCode: null, errorClass: 'connection' });
  });

  it('refuses a literal address outside the allow-list without connecting', async () => {
    const r = await start((res) => res.end());
    const result = await sender({ allowed: [] }).send(`http://127.0.0.1:${r.port}/`, HEADERS, '{}');
    expect(result).toMatchObject({ statusCode: null, errorClass: 'forbidden-address' });
    expect(result.error).toContain('loopback');
    expect(r.requests).toHaveLength(0);
  });

  it('checks the addresses a name resolves to, and connects only to a permitted one', async () => {
    const r = await start((res) => res.writeHead(200).end('ok'));
    const resolved: string[] = [];
    const resolve: Resolver = (hostname) => {
      resolved.push(hostname);
      return Promise.resolve([
        { address: '169.254.169.254', family: 4 },
        { address: '127.0.0.1', family: 4 },
      ]);
    };
    const result = await sender({ resolve }).send(`http://localhost:${r.port}/`, HEADERS, '{}');
    expect(result).toMatchObject({ statusCode: 200, responseBody: 'ok' });
    expect(resolved).toEqual(['localhost']);
    expect(r.requests).toHaveLength(1);
  });

  it('refuses a name that resolves only to forbidden addresses (DNS rebinding included)', async () => {
    const r = await start((res) => res.end());
    // The first lookup says loopback (allowed), the next says the metadata service: each attempt checks.
    const answers = ['127.0.0.1', '169.254.169.254'];
    const resolve: Resolver = () => Promise.resolve([{ address: answers.shift()!, family: 4 }]);
    const url = `http://localhost:${r.port}/`;
    expect((await sender({ resolve }).send(url, HEADERS, '{}')).statusCode).toBe(200);
    const second = await sender({ resolve }).send(url, HEADERS, '{}');
    expect(second).toMatchObject({ statusCode: null, errorClass: 'forbidden-address' });
    expect(second.error).toContain('169.254.169.254');
    expect(r.requests).toHaveLength(1);
  });

  it('sends http only to loopback addresses, even when others are allow-listed', async () => {
    const resolve: Resolver = () => Promise.resolve([{ address: '10.0.0.7', family: 4 }]);
    const result = await sender({ allowed: ['10.0.0.0/8'], resolve }).send(
      'http://localhost:9/',
      HEADERS,
      '{}',
    );
    expect(result).toMatchObject({ errorClass: 'forbidden-address' });
  });

  it('reports a name that does not resolve as a DNS error', async () => {
    const resolve: Resolver = () =>
      Promise.reject(
        Object.assign(new Error('getaddrinfo ENOTFOUND nowhere.invalid'), { code: 'ENOTFOUND' }),
      );
    const result = await sender({ resolve }).send('https://nowhere.invalid/', HEADERS, '{}');
    expect(result).toMatchObject({ statusCode: null, errorClass: 'dns' });
  });

  it('stops an attempt when asked to (shutdown)', async () => {
    const r = await start(() => undefined);
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 100);
    const result = await sender({ timeoutMs: 5_000 }).send(
      `http://127.0.0.1:${r.port}/`,
      HEADERS,
      '{}',
      abort.signal,
    );
    expect(result).toMatchObject({ statusCode: null, errorClass: 'aborted' });
  });

  it('cuts logged text on a character boundary and drops NUL characters', () => {
    expect(truncateUtf8(Buffer.from('aé'), 2)).toBe('a');
    expect(truncateUtf8(Buffer.from('a\u0000b'), 10)).toBe('ab');
    expect(Buffer.byteLength(truncateUtf8(Buffer.from([0xff, 0xfe, 0xfd]), 3))).toBeLessThanOrEqual(
      3,
    );
  });
});
