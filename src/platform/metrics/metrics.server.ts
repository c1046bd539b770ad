import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { Inject, Injectable, Logger } from '@nestjs/common';
import type { OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';

import { APP_CONFIG } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';
import { problem } from 'src/platform/errors/problem';
import { Metrics } from 'src/platform/metrics/metrics';

export const METRICS_PATH = '/metrics';

/**
 * The metrics listener: `GET /metrics` on METRICS_HOST:METRICS_PORT, apart from the API's listener, so the
 * exposition can never be reached through the public port (an ingress, a proxy route, a typo in one), and
 * scrapes neither use the API's rate limits nor show up in its request metrics. With METRICS_TOKEN set,
 * a scrape must send `Authorization: Bearer <token>` (required off loopback). Nothing else is served.
 */
@Injectable()
export class MetricsServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Metrics');
  private server: Server | undefined;
  private readonly tokenDigest: Buffer | undefined;

  constructor(
    private readonly metrics: Metrics,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    const token = config.metrics.token;
    this.tokenDigest = token === undefined ? undefined : digest(token);
  }

  async onApplicationBootstrap(): Promise<void> {
    const { port, host } = this.config.metrics;
    if (port === undefined) {
      return;
    }
    const server = createServer((request, response) => void this.serve(request, response));
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    const bound = server.address() as AddressInfo;
    this.logger.log(
      `Metrics on http://${host}:${bound.port}${METRICS_PATH}` +
        (this.tokenDigest === undefined ? ' (no token: loopback only)' : ' (bearer token)'),
    );
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server !== undefined) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  /** The bound port (METRICS_PORT=0 picks a free one), or undefined when metrics are off. */
  port(): number | undefined {
    return (this.server?.address() as AddressInfo | null)?.port;
  }

  private async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    response.setHeader('cache-control', 'no-store');
    response.setHeader('x-content-type-options', 'nosniff');
    const path = (request.url ?? '/').split('?')[0];
    if (path !== METRICS_PATH) {
      return sendProblem(response, 404, 'NOT_FOUND', `Only ${METRICS_PATH} is served here.`);
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('allow', 'GET, HEAD');
      return sendProblem(response, 405, 'METHOD_NOT_ALLOWED', 'Use GET.');
    }
    if (!this.authorized(request.headers.authorization)) {
      response.setHeader('www-authenticate', 'Bearer realm="tessera-metrics"');
      return sendProblem(
        response,
        401,
        'UNAUTHENTICATED',
        'Send the metrics token: Authorization: Bearer <METRICS_TOKEN>.',
      );
    }
    try {
      const body = await this.metrics.render();
      response.writeHead(200, { 'content-type': this.metrics.contentType });
      response.end(request.method === 'HEAD' ? undefined : body);
    } catch (error) {
      this.logger.error({ err: error, msg: 'rendering the metrics failed' });
      sendProblem(response, 500, 'INTERNAL_ERROR', 'The metrics could not be rendered.');
    }
  }

  private authorized(header: string | undefined): boolean {
    if (this.tokenDigest === undefined) {
      return true;
    }
    const match = /^Bearer ([^\s]+)$/i.exec(header ?? '');
    // Compared as digests: constant time, whatever the length of what was sent.
    return match !== null && timingSafeEqual(digest(Buffer.from(match[1])), this.tokenDigest);
  }
}

function digest(value: Buffer): Buffer {
  return createHash('sha256').update(value).digest();
}

function sendProblem(response: ServerResponse, status: number, code: string, detail: string): void {
  response.writeHead(status, { 'content-type': 'application/problem+json; charset=utf-8' });
  response.end(JSON.stringify(problem(status, code, detail)));
}
