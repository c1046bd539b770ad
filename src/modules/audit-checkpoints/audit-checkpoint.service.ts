import type { JsonWebKey } from 'node:crypto';

import { Inject, Injectable, Logger } from '@nestjs/common';
import type { OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

import { APP_CONFIG } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';
import { AuditService } from 'src/modules/audit/audit.service';
import { AuditCheckpointRepository } from 'src/modules/audit-checkpoints/audit-checkpoint.repository';
import type { AuditCheckpointRow } from 'src/modules/audit-checkpoints/audit-checkpoint.repository';
import { SigningService } from 'src/modules/signing/signing.service';
import { Clock } from 'src/platform/clock';
import { Transactions } from 'src/platform/database/transaction';
import { OutboxRepository } from 'src/platform/outbox/outbox.repository';

export const CHECKPOINT_TYPE = 'tessera-audit-checkpoint+jws';
/** The audit log is one aggregate: its checkpoint events form one numbered stream. */
export const AUDIT_LOG_AGGREGATE_ID = '00000000-0000-0000-0000-00000000a0d1';

export interface AuditCheckpointDto {
  readonly id: string;
  readonly sequence: number;
  readonly hash: string;
  readonly kid: string;
  readonly algorithm: string;
  /** Compact JWS; its payload is `{ seq, hash, iat }`. Verify with the JWKS at /v1/keys. */
  readonly jws: string;
  readonly createdAt: string;
}

export interface CheckpointProblem {
  readonly checkpointId: string;
  readonly sequence: number;
  readonly reason:
    | 'BAD_SIGNATURE'
    | 'UNTRUSTED_KEY'
    | 'STATEMENT_MISMATCH'
    | 'EVENT_MISSING'
    | 'HASH_MISMATCH'
    | 'CHECKPOINT_MISSING'
    | 'CHECKPOINT_ALTERED';
}

/**
 * What an auditor keeps outside the database, so that someone who can write to it cannot also rewrite
 * what it is checked against: the JWKS as published (a database writer could swap a stored public key for
 * their own) and copies of earlier checkpoints (a database writer could delete or re-sign them).
 */
export interface CheckpointEvidence {
  readonly jwks?: { keys: Array<JsonWebKey & { kid?: string; alg?: string }> };
  readonly checkpoints?: readonly AuditCheckpointDto[];
}

export interface CheckpointVerifyResult {
  readonly ok: boolean;
  readonly checked: number;
  readonly problems: CheckpointProblem[];
}

/**
 * Signed checkpoints of the audit chain head. The hash chain alone shows edits to single events; someone
 * able to rewrite the whole table could recompute every hash. A checkpoint signed with the audit key (in
 * the HSM) pins the hash at a sequence, so such a rewrite no longer matches it. Checkpoints are not
 * themselves audited (an audit event per checkpoint would move the head it has just signed), but each is
 * published as an `audit.checkpointed` event, so copies exist outside the database.
 */
@Injectable()
export class AuditCheckpointService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('AuditCheckpoints');
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly checkpoints: AuditCheckpointRepository,
    private readonly transactions: Transactions,
    private readonly audit: AuditService,
    private readonly signing: SigningService,
    private readonly outbox: OutboxRepository,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    const minutes = this.config.signing.auditCheckpointMinutes;
    if (minutes === 0) {
      return;
    }
    // Checked every minute, so a restarted instance does not wait a whole interval; runScheduled decides.
    this.timer = setInterval(() => {
      this.runScheduled().catch((error: Error) =>
        this.logger.error(`scheduled audit checkpoint failed: ${error.message}`),
      );
    }, 60_000);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /**
   * The scheduled run: creates a checkpoint when the chain moved and the last one is at least one
   * interval old. Safe with several instances: one holds the lock, the others skip.
   */
  async runScheduled(): Promise<AuditCheckpointDto | null> {
    return this.transactions.run(async (tx) => {
      if (!(await this.checkpoints.tryLockSchedule(tx))) {
        return null;
      }
      const head = await this.audit.head();
      const latest = await this.checkpoints.latest(tx);
      const now = this.clock.now();
      const dueAt =
        latest === null
          ? now
          : new Date(
              latest.createdAt.getTime() + this.config.signing.auditCheckpointMinutes * 60_000,
            );
      if (head.sequence === 0 || head.sequence === latest?.sequence || now < dueAt) {
        return null;
      }
      return toDto(await this.insert(tx, head.sequence, head.hash));
    });
  }

  /** On demand: signs the current head, or returns the latest checkpoint when the chain has not moved. */
  async create(): Promise<AuditCheckpointDto> {
    return this.transactions.run(async (tx) => {
      const head = await this.audit.head();
      const latest = await this.checkpoints.latest(tx);
      if (latest !== null && latest.sequence === head.sequence) {
        return toDto(latest);
      }
      return toDto(await this.insert(tx, head.sequence, head.hash));
    });
  }

  async list(limit: number): Promise<AuditCheckpointDto[]> {
    return (await this.checkpoints.findMany(limit)).map(toDto);
  }

  /**
   * Checks every checkpoint (those stored, and the external copies given): its signature, its statement,
   * and that the chain still has the signed hash at its sequence. With `evidence.jwks`, only keys in that
   * pinned JWKS are trusted; with `evidence.checkpoints`, each copy must still be stored, unchanged.
   */
  async verify(evidence: CheckpointEvidence = {}): Promise<CheckpointVerifyResult> {
    const stored = await this.checkpoints.findAll();
    const byId = new Map(stored.map((row) => [row.id, row]));
    const problems: CheckpointProblem[] = [];
    const external = (evidence.checkpoints ?? []).map(fromDto);
    for (const copy of external) {
      const row = byId.get(copy.id);
      if (row === undefined || !sameCheckpoint(row, copy)) {
        problems.push({
          checkpointId: copy.id,
          sequence: copy.sequence,
          reason: row === undefined ? 'CHECKPOINT_MISSING' : 'CHECKPOINT_ALTERED',
        });
      }
    }
    // A deleted or altered checkpoint's copy is still checked against the chain itself.
    const all = [...stored, ...external.filter((copy) => !sameCheckpoint(byId.get(copy.id), copy))];
    const hashes = await this.audit.hashesAt(all.map((c) => c.sequence));
    const pinned =
      evidence.jwks === undefined
        ? undefined
        : new Map(evidence.jwks.keys.filter((k) => k.kid !== undefined).map((k) => [k.kid!, k]));
    for (const checkpoint of all) {
      const reason = await this.check(checkpoint, hashes.get(checkpoint.sequence), pinned);
      if (reason !== null) {
        problems.push({ checkpointId: checkpoint.id, sequence: checkpoint.sequence, reason });
      }
    }
    return { ok: problems.length === 0, checked: all.length, problems };
  }

  private async check(
    checkpoint: AuditCheckpointRow,
    storedHash: string | undefined,
    pinned: Map<string, JsonWebKey & { alg?: string }> | undefined,
  ): Promise<CheckpointProblem['reason'] | null> {
    const [header, payload, signature] = checkpoint.signature.split('.');
    let kid: unknown;
    let statement: { seq?: unknown; hash?: unknown };
    try {
      kid = (JSON.parse(Buffer.from(header, 'base64url').toString()) as { kid?: unknown }).kid;
      statement = JSON.parse(Buffer.from(payload, 'base64url').toString()) as typeof statement;
    } catch {
      return 'BAD_SIGNATURE';
    }
    if (typeof kid !== 'string' || signature === undefined) {
      return 'BAD_SIGNATURE';
    }
    const message = Buffer.from(`${header}.${payload}`);
    const bytes = Buffer.from(signature, 'base64url');
    let signed: boolean;
    if (pinned === undefined) {
      signed = await this.signing.verify(kid, message, bytes);
    } else {
      const key = pinned.get(kid);
      if (key === undefined) {
        return 'UNTRUSTED_KEY';
      }
      signed = this.signing.verifyWithJwk(key, message, bytes);
    }
    if (!signed) {
      return 'BAD_SIGNATURE';
    }
    if (statement.seq !== checkpoint.sequence || statement.hash !== checkpoint.hash) {
      return 'STATEMENT_MISMATCH';
    }
    if (storedHash === undefined) {
      return 'EVENT_MISSING';
    }
    return storedHash === checkpoint.hash ? null : 'HASH_MISMATCH';
  }

  private async insert(
    tx: EntityManager,
    sequence: number,
    hash: string,
  ): Promise<AuditCheckpointRow> {
    const now = this.clock.now();
    const statement = { seq: sequence, hash, iat: Math.floor(now.getTime() / 1000) };
    const jws = await this.signing.signJws('audit', Buffer.from(JSON.stringify(statement)), {
      typ: CHECKPOINT_TYPE,
    });
    const row = await this.checkpoints.insert(tx, {
      sequence,
      hash,
      kid: jws.kid,
      algorithm: jws.alg,
      signature: jws.compact,
      createdAt: now,
    });
    // Published as an event too: subscribers (a SIEM, an auditor's endpoint) keep copies outside the
    // database, and the stream's own sequence shows if one was ever removed.
    await this.outbox.add(tx, {
      type: 'audit.checkpointed',
      aggregateType: 'audit-log',
      aggregateId: AUDIT_LOG_AGGREGATE_ID,
      data: { ...toDto(row) },
    });
    this.logger.log(`Signed audit checkpoint at sequence ${sequence} with ${jws.kid}`);
    return row;
  }
}

function fromDto(dto: AuditCheckpointDto): AuditCheckpointRow {
  return {
    id: dto.id,
    sequence: dto.sequence,
    hash: dto.hash,
    kid: dto.kid,
    algorithm: dto.algorithm,
    signature: dto.jws,
    createdAt: new Date(dto.createdAt),
  };
}

function sameCheckpoint(a: AuditCheckpointRow | undefined, b: AuditCheckpointRow): boolean {
  return (
    a !== undefined && a.sequence === b.sequence && a.hash === b.hash && a.signature === b.signature
  );
}

function toDto(row: AuditCheckpointRow): AuditCheckpointDto {
  return {
    id: row.id,
    sequence: row.sequence,
    hash: row.hash,
    kid: row.kid,
    algorithm: row.algorithm,
    jws: row.signature,
    createdAt: new Date(row.createdAt).toISOString(),
  };
}
