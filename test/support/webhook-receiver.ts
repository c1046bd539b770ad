import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly receivedAt: number;
}

export interface WebhookReceiver {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly received: ReceivedWebhook[];
  /** How to answer each request; the default answers 200. */
  respond: (request: ReceivedWebhook, res: ServerResponse) => void;
  /** The `webhook-id`s received, in order of arrival (with repeats). */
  ids(): string[];
  /** The parsed bodies received on `path` (all paths if absent). */
  payloads(path?: string): Array<Record<string, any>>;
  /** Resolves once `predicate` holds for what was received, or rejects after `timeoutMs`. */
  waitFor(predicate: (received: ReceivedWebhook[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** A real HTTP receiver on 127.0.0.1 that records every webhook it gets. */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const receiver = {
    respond: (_request: ReceivedWebhook, res: ServerResponse) => {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    },
  } as WebhookReceiver;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request: ReceivedWebhook = {
        path: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        receivedAt: Date.now(),
      };
      received.push(request);
      receiver.respond(request, res);
    });
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(receiver, {
    url: `http://127.0.0.1:${port}`,
    received,
    ids: () => received.map((r) => String(r.headers['webhook-id'])),
    payloads: (path?: string) =>
      received
        .filter((r) => path === undefined || r.path === path)
        .map((r) => JSON.parse(r.body) as Record<string, any>),
    waitFor: async (predicate: (r: ReceivedWebhook[]) => boolean, timeoutMs = 20_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(received)) {
        if (Date.now() > deadline) {
          throw new Error(
            `The receiver did not get what was expected within ${timeoutMs} ms (${received.length} received)`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

/** Environment for an app whose webhooks may go to receivers on 127.0.0.1 (explicitly allow-listed). */
export const LOOPBACK_WEBHOOKS_ENV = {
  WEBHOOK_ALLOW_HTTP: 'true',
  WEBHOOK_ALLOWED_ADDRESSES: '127.0.0.1',
  WEBHOOK_TIMEOUT_MS: '3000',
  WEBHOOK_CONNECT_TIMEOUT_MS: '1000',
};

/** The webhook headers of a received request, as the standardwebhooks library takes them. */
export function webhookHeaders(request: ReceivedWebhook): Record<string, string> {
  return {
    'webhook-id': String(request.headers['webhook-id']),
    'webhook-timestamp': String(request.headers['webhook-timestamp']),
    'webhook-signature': String(request.headers['webhook-signature']),
  };
}
