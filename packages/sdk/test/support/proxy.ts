import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Exchange {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}

export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** What the proxy does with one request: pass it on (changed or not), answer itself, or drop the line. */
export type Handler = (
  request: Exchange,
  forward: (request: Exchange) => Promise<Answer>,
) => Promise<Answer | 'drop'>;

const HOP_BY_HOP = new Set([
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'host',
]);

/**
 * A real HTTP proxy in front of a real Tessera: what an attacker between the app and the server can do
 * (change bytes, swap the scope, replay an answer) or what a bad network does (drop the connection).
 */
export class Proxy {
  handler: Handler = (request, forward) => forward(request);
  readonly exchanges: Exchange[] = [];
  private server: Server | undefined;
  url = '';

  constructor(private readonly target: string) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      void (async () => {
        const request = await read(req);
        this.exchanges.push(request);
        const answer = await this.handler(request, (changed) => this.forward(changed));
        if (answer === 'drop') {
          req.socket.destroy();
          return;
        }
        res.writeHead(answer.status, answer.headers);
        res.end(answer.body);
      })().catch(() => req.socket.destroy());
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async forward(request: Exchange): Promise<Answer> {
    const response = await fetch(`${this.target}${request.path}`, {
      method: request.method,
      headers: request.headers,
      body: ['GET', 'HEAD'].includes(request.method) ? undefined : request.body,
    });
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      if (!HOP_BY_HOP.has(name) && name !== 'content-encoding') {
        headers[name] = value;
      }
    });
    return { status: response.status, headers, body: Buffer.from(await response.arrayBuffer()) };
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

async function read(req: IncomingMessage): Promise<Exchange> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    chunks.push(chunk as Buffer);
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (!HOP_BY_HOP.has(name) && typeof value === 'string') {
      headers[name] = value;
    }
  }
  return { method: req.method!, path: req.url!, headers, body: Buffer.concat(chunks) };
}
