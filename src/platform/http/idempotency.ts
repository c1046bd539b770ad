import { createHash } from 'node:crypto';

import { Injectable, SetMetadata } from '@nestjs/common';
import type {
  CallHandler,
  ExecutionContext,
  NestInterceptor,
  OnModuleDestroy,
} from '@nestjs/common';
import { HTTP_CODE_METADATA } from '@nestjs/common/constants';
import { Reflector } from '@nestjs/core';
import { ApiHeader } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { catchError, from, mergeMap, of, throwError } from 'rxjs';
import type { Observable } from 'rxjs';
import { DataSource } from 'typeorm';
import type { EntityManager } from 'typeorm';

import type { AuthenticatedRequest } from 'src/platform/auth/authenticated.decorator';
import { Clock } from 'src/platform/clock';
import { DomainError } from 'src/platform/errors/domain-error';

const IDEMPOTENT = 'tessera:idempotent';
const TTL_MS = 24 * 3_600_000;
const KEY_FORMAT = /^[\x21-\x7e]{1,255}$/;

/** The route honours `Idempotency-Key`: a retry with the same key replays the first response. */
export const Idempotent =
  (): MethodDecorator => (target: object, key: string | symbol, descriptor: PropertyDescriptor) => {
    SetMetadata(IDEMPOTENT, true)(target, key, descriptor);
    ApiHeader({
      name: 'Idempotency-Key',
      required: false,
      description:
        'Retries with the same key within 24 h replay the first response instead of acting twice.',
    })(target, key, descriptor);
  };

export class IdempotencyKeyReused extends DomainError {
  readonly code = 'IDEMPOTENCY_KEY_REUSED';
  readonly status = 422;
  constructor() {
    super(
      'This Idempotency-Key was used with a different request: use a new key for a new request.',
    );
  }
}

export class IdempotencyKeyInProgress extends DomainError {
  readonly code = 'IDEMPOTENCY_KEY_IN_PROGRESS';
  readonly status = 409;
  constructor() {
    super('A request with this Idempotency-Key is still being processed: retry shortly.');
  }
}

export class InvalidIdempotencyKey extends DomainError {
  readonly code = 'INVALID_IDEMPOTENCY_KEY';
  readonly status = 400;
  constructor() {
    super('Idempotency-Key must be 1 to 255 visible ASCII characters.');
  }
}

/**
 * Forgets stored responses that describe the resource `id` (erasure: a replayed creation response would
 * still carry the personal data). Later retries with those keys simply execute again.
 */
export async function forgetIdempotentResponsesAbout(tx: EntityManager, id: string): Promise<void> {
  await tx.query(`DELETE FROM idempotency_keys WHERE response_body->>'id' = $1`, [id]);
}

type Begin =
  | { kind: 'execute' }
  | { kind: 'replay'; status: number; body: unknown }
  | { kind: 'mismatch' }
  | { kind: 'in-progress' };

/**
 * Keyed requests are claimed with an INSERT (so two concurrent requests with one key cannot both run),
 * completed with their response, and released on failure so that a retry can execute. Scoped per caller.
 * Known gap: a crash between the mutation's commit and storing its response leaves the key "in progress"
 * until it expires (24 h); retries then get 409 rather than a second execution.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor, OnModuleDestroy {
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly reflector: Reflector,
    private readonly dataSource: DataSource,
    private readonly clock: Clock,
  ) {
    this.sweeper = setInterval(() => void this.sweep().catch(() => undefined), 10 * 60_000);
    this.sweeper.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.sweeper);
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const header = request.headers['idempotency-key'];
    if (
      typeof header !== 'string' ||
      this.reflector.get<boolean>(IDEMPOTENT, context.getHandler()) !== true
    ) {
      return next.handle();
    }
    if (!KEY_FORMAT.test(header)) {
      return throwError(() => new InvalidIdempotencyKey());
    }
    const actor = request.actor;
    const scope =
      actor?.id !== undefined && actor.id !== null
        ? `${actor.type}:${actor.id}`
        : `ip:${request.ip}`;
    const requestHash = createHash('sha256')
      .update(`${request.method} ${request.url}\n${JSON.stringify(request.body ?? null)}`)
      .digest('base64url');
    const status =
      this.reflector.get<number | undefined>(HTTP_CODE_METADATA, context.getHandler()) ?? 201;
    const reply = context.switchToHttp().getResponse<FastifyReply>();

    return from(this.begin(scope, header, requestHash)).pipe(
      mergeMap((begin) => {
        switch (begin.kind) {
          case 'mismatch':
            return throwError(() => new IdempotencyKeyReused());
          case 'in-progress':
            return throwError(() => new IdempotencyKeyInProgress());
          case 'replay':
            void reply.status(begin.status).header('idempotent-replayed', 'true');
            return of(begin.body);
          case 'execute':
            return next.handle().pipe(
              mergeMap((body: unknown) =>
                from(this.complete(scope, header, status, body).then(() => body)),
              ),
              catchError((error: unknown) =>
                from(this.release(scope, header)).pipe(mergeMap(() => throwError(() => error))),
              ),
            );
        }
      }),
    );
  }

  private async begin(scope: string, key: string, requestHash: string): Promise<Begin> {
    const now = this.clock.now();
    // An expired record no longer counts: clear it so the key can be claimed afresh.
    await this.dataSource.query(
      `DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND expires_at <= $3`,
      [scope, key, now],
    );
    const claimed = await this.dataSource.query<unknown[]>(
      `INSERT INTO idempotency_keys (scope, key, request_hash, state, created_at, expires_at)
       VALUES ($1, $2, $3, 'in-progress', $4, $5) ON CONFLICT (scope, key) DO NOTHING RETURNING key`,
      [scope, key, requestHash, now, new Date(now.getTime() + TTL_MS)],
    );
    if (claimed.length === 1) {
      return { kind: 'execute' };
    }
    const rows = await this.dataSource.query<
      {
        request_hash: string;
        state: string;
        response_status: number | null;
        response_body: unknown;
      }[]
    >(
      `SELECT request_hash, state, response_status, response_body FROM idempotency_keys WHERE scope = $1 AND key = $2`,
      [scope, key],
    );
    const record = rows[0];
    if (record === undefined) {
      return this.begin(scope, key, requestHash); // released between our insert and select: claim again
    }
    if (record.request_hash !== requestHash) {
      return { kind: 'mismatch' };
    }
    if (record.state !== 'completed') {
      return { kind: 'in-progress' };
    }
    return { kind: 'replay', status: record.response_status ?? 200, body: record.response_body };
  }

  private async complete(scope: string, key: string, status: number, body: unknown): Promise<void> {
    await this.dataSource.query(
      `UPDATE idempotency_keys SET state = 'completed', response_status = $3, response_body = $4::jsonb
       WHERE scope = $1 AND key = $2`,
      [scope, key, status, JSON.stringify(body ?? null)],
    );
  }

  private async release(scope: string, key: string): Promise<void> {
    await this.dataSource.query(
      `DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND state = 'in-progress'`,
      [scope, key],
    );
  }

  private async sweep(): Promise<void> {
    await this.dataSource.query(`DELETE FROM idempotency_keys WHERE expires_at <= $1`, [
      this.clock.now(),
    ]);
  }
}
