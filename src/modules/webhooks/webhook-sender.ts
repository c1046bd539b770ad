import { lookup as dnsLookup } from 'node:dns/promises';
import { request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import type { LookupFunction } from 'node:net';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

import { isLoopback } from 'src/modules/webhooks/webhook-address';
import type { AddressPolicy } from 'src/modules/webhooks/webhook-address';
import { hostOf } from 'src/modules/webhooks/webhook-url';

/** The first bytes of a response kept in the attempt log. */
export const RESPONSE_LOG_BYTES = 2048;

export type ErrorClass =
  | 'invalid-url'
  | 'dns'
  | 'forbidden-address'
  | 'connect-timeout'
  | 'timeout'
  | 'connection'
  | 'tls'
  | 'redirect'
  | 'http-status'
  | 'aborted'
  /** Tessera could not sign the message; nothing was sent. */
  | 'signing';

export interface AttemptResult {
  /** Null when no response arrived. */
  readonly statusCode: number | null;
  readonly retryAfter: string | undefined;
  readonly responseBody: string | null;
  readonly errorClass: ErrorClass | null;
  readonly error: string | null;
  readonly durationMs: number;
}

export interface ResolvedAddress {
  readonly address: string;
  readonly family: number;
}

/** DNS resolution, injectable so that tests can make a name resolve anywhere. */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export interface SenderOptions {
  readonly policy: AddressPolicy;
  readonly allowHttp: boolean;
  readonly connectTimeoutMs: number;
  readonly timeoutMs: number;
  readonly userAgent: string;
  readonly resolve?: Resolver;
}

class AttemptError extends Error {
  constructor(
    readonly errorClass: ErrorClass,
    message: string,
  ) {
    super(message);
  }
}

const systemResolver: Resolver = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/**
 * One HTTP POST per attempt, on a connection of its own, to an address the SSRF guard checked after DNS
 * resolution: the custom `lookup` hands the socket only permitted addresses, so there is no window between
 * the check and the connect for DNS rebinding. Redirects are never followed. Never throws.
 */
export class WebhookSender {
  private readonly resolve: Resolver;

  constructor(private readonly options: SenderOptions) {
    this.resolve = options.resolve ?? systemResolver;
  }

  async send(
    target: string,
    headers: Readonly<Record<string, string>>,
    body: string,
    signal?: AbortSignal,
  ): Promise<AttemptResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    try {
      const response = await this.post(new URL(target), headers, body, signal);
      const redirect = response.statusCode >= 300 && response.statusCode < 400;
      return {
        statusCode: response.statusCode,
        retryAfter: response.retryAfter,
        responseBody: response.body,
        errorClass: redirect ? 'redirect' : response.statusCode >= 300 ? 'http-status' : null,
        error: redirect
          ? `Redirect to ${response.location ?? '(no Location)'} not followed`
          : response.statusCode >= 300
            ? `HTTP ${response.statusCode}`
            : null,
        durationMs: elapsed(),
      };
    } catch (error) {
      const { errorClass, message } = classify(error);
      return {
        statusCode: null,
        retryAfter: undefined,
        responseBody: null,
        errorClass,
        error: message.slice(0, 500),
        durationMs: elapsed(),
      };
    }
  }

  private post(
    url: URL,
    headers: Readonly<Record<string, string>>,
    body: string,
    signal: AbortSignal | undefined,
  ): Promise<{ statusCode: number; retryAfter?: string; location?: string; body: string }> {
    const https = url.protocol === 'https:';
    if (!https && !(this.options.allowHttp && url.protocol === 'http:')) {
      return Promise.reject(new AttemptError('invalid-url', `Scheme ${url.protocol} not allowed`));
    }
    const host = hostOf(url);
    // Literal addresses never reach `lookup` (Node connects to them directly): check them here.
    if (isIP(host) !== 0) {
      const refusal = this.refusal(host, https);
      if (refusal !== null) {
        return Promise.reject(new AttemptError('forbidden-address', `${host}: ${refusal}`));
      }
    }
    const payload = Buffer.from(body, 'utf8');
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (error: Error) => {
        if (!settled) {
          settled = true;
          clearTimeout(total);
          reject(error);
        }
      };
      const request = (https ? httpsRequest : httpRequest)({
        protocol: url.protocol,
        hostname: host,
        port: url.port === '' ? undefined : Number(url.port),
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': String(payload.length),
          'user-agent': this.options.userAgent,
        },
        // A fresh connection per attempt: every attempt resolves and checks the address again.
        agent: false,
        lookup: this.guardedLookup(https),
        signal,
      });
      const total = setTimeout(
        () =>
          request.destroy(
            new AttemptError('timeout', `No complete response within ${this.options.timeoutMs} ms`),
          ),
        this.options.timeoutMs,
      );
      request.on('socket', (socket: Socket) => {
        if (!socket.connecting) {
          return;
        }
        const connect = setTimeout(
          () =>
            request.destroy(
              new AttemptError(
                'connect-timeout',
                `Not connected within ${this.options.connectTimeoutMs} ms`,
              ),
            ),
          this.options.connectTimeoutMs,
        );
        socket.once(https ? 'secureConnect' : 'connect', () => clearTimeout(connect));
        socket.once('close', () => clearTimeout(connect));
      });
      request.on('error', fail);
      request.on('response', (response: IncomingMessage) => {
        readStart(response, RESPONSE_LOG_BYTES).then((text) => {
          if (!settled) {
            settled = true;
            clearTimeout(total);
            request.destroy();
            resolve({
              statusCode: response.statusCode ?? 0,
              retryAfter: headerOf(response, 'retry-after'),
              location: headerOf(response, 'location'),
              body: text,
            });
          }
        }, fail);
      });
      request.end(payload);
    });
  }

  /** Null when this attempt may connect to `address`; http goes to loopback addresses only. */
  private refusal(address: string, https: boolean): string | null {
    if (!https && !isLoopback(address)) {
      return 'http is allowed to loopback addresses only';
    }
    return this.options.policy.refusal(address);
  }

  private guardedLookup(https: boolean): LookupFunction {
    return (hostname, options, callback) => {
      this.resolve(hostname).then(
        (addresses) => {
          const permitted = addresses.filter(
            (a) =>
              (options.family === undefined ||
                options.family === 0 ||
                options.family === a.family) &&
              this.refusal(a.address, https) === null,
          );
          if (permitted.length === 0) {
            const all = addresses.map((a) => a.address).join(', ') || 'nothing';
            callback(
              new AttemptError(
                'forbidden-address',
                `${hostname} resolves to ${all}: no address deliveries may reach`,
              ),
              '',
            );
          } else if (options.all === true) {
            callback(null, permitted);
          } else {
            callback(null, permitted[0].address, permitted[0].family);
          }
        },
        (error: unknown) => callback(error as NodeJS.ErrnoException, ''),
      );
    };
  }
}

/** The start of a response body, decoded for the log: at most `limit` UTF-8 bytes, no NUL characters. */
async function readStart(response: IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response) {
    const buffer = chunk as Buffer;
    chunks.push(buffer);
    size += buffer.length;
    if (size >= limit) {
      break; // leaving the loop destroys the stream: the rest is never read
    }
  }
  return truncateUtf8(Buffer.concat(chunks).subarray(0, limit), limit);
}

/** Text of at most `limit` UTF-8 bytes: PostgreSQL text cannot hold NUL, and a cut may split a character. */
export function truncateUtf8(bytes: Buffer, limit: number): string {
  let text = bytes.toString('utf8').replaceAll('\u0000', '');
  while (Buffer.byteLength(text, 'utf8') > limit) {
    text = text.slice(0, -1);
  }
  return text;
}

function headerOf(response: IncomingMessage, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ETIMEDOUT',
  'EADDRNOTAVAIL',
]);

function classify(error: unknown): { errorClass: ErrorClass; message: string } {
  if (error instanceof AttemptError) {
    return { errorClass: error.errorClass, message: error.message };
  }
  const e = error as NodeJS.ErrnoException | undefined;
  const message = e?.message ?? String(error);
  const code = e?.code ?? '';
  if (e?.name === 'AbortError' || code === 'ABORT_ERR') {
    return { errorClass: 'aborted', message: 'Aborted: Tessera is shutting down' };
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'ENODATA') {
    return { errorClass: 'dns', message };
  }
  if (CONNECTION_CODES.has(code)) {
    return { errorClass: 'connection', message };
  }
  if (/CERT|TLS|SSL|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code)) {
    return { errorClass: 'tls', message };
  }
  return { errorClass: 'connection', message };
}
