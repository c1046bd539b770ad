import { Inject, Injectable } from '@nestjs/common';
import { BlockList, isIP } from 'node:net';

import { APP_CONFIG } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';
import type {
  ApiKeyDto,
  CreateApiKeyDto,
  CreatedApiKeyDto,
} from 'src/modules/api-keys/api-key.dto';
import type { ApiKeyEntity } from 'src/modules/api-keys/api-key.entity';
import {
  ApiKeyAlreadyRevoked,
  ApiKeyNotFound,
  ApiKeyPermissionEscalation,
  InvalidApiKeyExpiry,
} from 'src/modules/api-keys/api-key.errors';
import { ApiKeyRepository } from 'src/modules/api-keys/api-key.repository';
import { ChangeRecorder } from 'src/modules/audit/change-recorder.service';
import type { Actor } from 'src/platform/auth/actor';
import { Unauthenticated } from 'src/platform/auth/auth.errors';
import { Clock } from 'src/platform/clock';
import { Transactions } from 'src/platform/database/transaction';
import { KeyedHash, newBearerSecret } from 'src/platform/crypto/keyed-hash';
import { afterIdOf, page } from 'src/platform/http/pagination';
import { DomainError } from 'src/platform/errors/domain-error';

export const API_KEY_PREFIX = 'tsk_live_';
const HASH_PURPOSE = 'api-key';
// last_used_at is a hint, not a log: refreshing it at most once a minute keeps writes off most requests.
const LAST_USED_RESOLUTION_MS = 60_000;

class InvalidCidr extends DomainError {
  readonly code = 'INVALID_CIDR';
  readonly status = 422;
  constructor(entry: string) {
    super(`"${entry}" is not an IP address or CIDR block.`);
  }
}

@Injectable()
export class ApiKeyService {
  constructor(
    private readonly keys: ApiKeyRepository,
    private readonly transactions: Transactions,
    private readonly changes: ChangeRecorder,
    private readonly hash: KeyedHash,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async create(actor: Actor, input: CreateApiKeyDto): Promise<CreatedApiKeyDto> {
    const missing = input.permissions.filter((p) => !actor.permissions.has(p));
    if (missing.length > 0) {
      throw new ApiKeyPermissionEscalation(missing);
    }
    const now = this.clock.now();
    const expiresAt = new Date(input.expiresAt);
    const maxMs = this.config.auth.apiKeyMaxDays * 86_400_000;
    if (!(expiresAt.getTime() > now.getTime()) || expiresAt.getTime() - now.getTime() > maxMs) {
      throw new InvalidApiKeyExpiry(this.config.auth.apiKeyMaxDays);
    }
    const allowedCidrs = (input.allowedCidrs ?? []).map(normaliseCidr);
    const secret = newBearerSecret(API_KEY_PREFIX);
    const created = await this.transactions.run(async (tx) => {
      const key = await this.keys.create(tx, {
        name: input.name,
        prefix: secret.slice(0, API_KEY_PREFIX.length + 6),
        secretHash: this.hash.digest(HASH_PURPOSE, secret),
        permissions: [...new Set(input.permissions)].sort(),
        allowedCidrs,
        createdByType: actor.type,
        createdById: actor.id,
        expiresAt,
        lastUsedAt: null,
        revokedAt: null,
      });
      await this.changes.record(tx, actor, {
        action: 'api-key.created',
        targetType: 'api-key',
        targetId: key.id,
        after: {
          name: key.name,
          permissions: key.permissions,
          expiresAt: key.expiresAt.toISOString(),
          allowedCidrs,
        },
      });
      return key;
    });
    return { ...toDto(created), key: secret };
  }

  async list(limit: number, cursor: string | undefined) {
    const afterId = afterIdOf(cursor);
    const rows = await this.keys.findMany(limit + 1, afterId);
    return page(rows, limit, toDto, (row) => ({ id: row.id }));
  }

  async get(id: string): Promise<ApiKeyDto> {
    const key = await this.keys.getById(undefined, id);
    if (key === null) {
      throw new ApiKeyNotFound();
    }
    return toDto(key);
  }

  async revoke(actor: Actor, id: string): Promise<ApiKeyDto> {
    return this.transactions.run(async (tx) => {
      const key = await this.keys.getById(tx, id, true);
      if (key === null) {
        throw new ApiKeyNotFound();
      }
      if (key.revokedAt !== null) {
        throw new ApiKeyAlreadyRevoked();
      }
      key.revokedAt = this.clock.now();
      const saved = await this.keys.save(tx, key);
      await this.changes.record(tx, actor, {
        action: 'api-key.revoked',
        targetType: 'api-key',
        targetId: key.id,
        before: { revokedAt: null },
        after: { revokedAt: saved.revokedAt?.toISOString() ?? null },
      });
      return toDto(saved);
    });
  }

  /** The actor for a presented key, or a 401: unknown, revoked, expired, or from a disallowed address. */
  async authenticate(
    secret: string,
    ip: string,
    requestId: string,
    userAgent?: string,
  ): Promise<Actor> {
    const key = await this.keys.getBySecretHash(this.hash.digest(HASH_PURPOSE, secret));
    const now = this.clock.now();
    if (key === null || key.revokedAt !== null || key.expiresAt.getTime() <= now.getTime()) {
      throw new Unauthenticated('The API key is unknown, revoked or expired.');
    }
    if (key.allowedCidrs.length > 0 && !addressAllowed(ip, key.allowedCidrs)) {
      throw new Unauthenticated('The API key is not allowed from this address.');
    }
    if (
      key.lastUsedAt === null ||
      now.getTime() - key.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS
    ) {
      // Off the request path: a failed update of this hint must not fail the request.
      void this.keys
        .touch(key.id, now, new Date(now.getTime() - LAST_USED_RESOLUTION_MS))
        .catch(() => undefined);
    }
    return {
      type: 'api-key',
      id: key.id,
      permissions: new Set(key.permissions),
      ip,
      userAgent,
      requestId,
    };
  }
}

function toDto(key: ApiKeyEntity): ApiKeyDto {
  return {
    id: key.id,
    name: key.name,
    prefix: key.prefix,
    permissions: key.permissions,
    allowedCidrs: key.allowedCidrs,
    expiresAt: key.expiresAt.toISOString(),
    lastUsedAt: key.lastUsedAt?.toISOString() ?? null,
    revokedAt: key.revokedAt?.toISOString() ?? null,
    createdAt: key.createdAt.toISOString(),
    createdById: key.createdById,
  };
}

function normaliseCidr(entry: string): string {
  const [address, prefix] = entry.split('/');
  const family = isIP(address);
  const maxPrefix = family === 4 ? 32 : 128;
  const bits = prefix === undefined ? maxPrefix : Number(prefix);
  if (family === 0 || !Number.isInteger(bits) || bits < 0 || bits > maxPrefix) {
    throw new InvalidCidr(entry);
  }
  return `${address}/${bits}`;
}

function addressAllowed(ip: string, cidrs: readonly string[]): boolean {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address, bits] = cidr.split('/');
    list.addSubnet(address, Number(bits), isIP(address) === 6 ? 'ipv6' : 'ipv4');
  }
  const plain = ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
  return list.check(plain, isIP(plain) === 6 ? 'ipv6' : 'ipv4');
}
