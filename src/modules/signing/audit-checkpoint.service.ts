import { Inject, Injectable, Logger } from '@nestjs/common';
import type { OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

import { APP_CONFIG } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';
import { AuditService } from 'src/modules/audit/audit.service';
import { AuditCheckpointRepository } from 'src/modules/signing/audit-checkpoint.repository';
import type { AuditCheckpointRow } from 'src/modules/signing/audit-checkpoint.repository';
import { SigningService } from 'src/modules/signing/signing.service';
import { Clock } from 'src/platform/clock';

export const CHECKPOINT_TYPE = 'tessera-audit-checkpoint+jws';

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
  readonly reason: 'BAD_SIGNATURE' | 'STATEMENT_MISMATCH' | 'EVENT_MISSING' | 'HASH_MISMATCH';
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
 * themselves audited: an audit event per checkpoint would move the head it has just signed.
 */
@Injectable()
export class AuditCheckpointService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('AuditCheckpoints');
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly checkpoints: AuditCheckpointRepository,
    private readonly audit: AuditService,
    private readonly signing: SigningService,
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
    return this.checkpoints.transaction(async (tx) => {
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
    return this.checkpoints.transaction(async (tx) => {
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

  /** Checks every checkpoint: its signature (any key the ring ever had), its statement, and the chain. */
  async verify(): Promise<CheckpointVerifyResult> {
    const all = await this.checkpoints.findAll();
    const hashes = await this.audit.hashesAt(all.map((c) => c.sequence));
    const problems: CheckpointProblem[] = [];
    for (const checkpoint of all) {
      const reason = await this.check(checkpoint, hashes.get(checkpoint.sequence));
      if (reason !== null) {
        problems.push({ checkpointId: checkpoint.id, sequence: checkpoint.sequence, reason });
      }
    }
    return { ok: problems.length === 0, checked: all.length, problems };
  }

  private async check(
    checkpoint: AuditCheckpointRow,
    storedHash: string | undefined,
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
    const signed =
      typeof kid === 'string' &&
      signature !== undefined &&
      (await this.signing.verify(
        kid,
        Buffer.from(`${header}.${payload}`),
        Buffer.from(signature, 'base64url'),
      ));
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
    const header = JSON.parse(Buffer.from(jws.split('.')[0], 'base64url').toString()) as {
      kid: string;
      alg: string;
    };
    const row = await this.checkpoints.insert(tx, {
      sequence,
      hash,
      kid: header.kid,
      algorithm: header.alg,
      signature: jws,
      createdAt: now,
    });
    this.logger.log(`Signed audit checkpoint at sequence ${sequence} with ${header.kid}`);
    return row;
  }
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
