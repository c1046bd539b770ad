import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { EntityManager } from 'typeorm';

export interface AuditCheckpointRow {
  readonly id: string;
  readonly sequence: number;
  readonly hash: string;
  readonly kid: string;
  readonly algorithm: string;
  /** The compact JWS whose payload states sequence and hash. */
  readonly signature: string;
  readonly createdAt: Date;
}

const COLUMNS = `id, sequence::int AS sequence, hash, kid, algorithm, signature, created_at AS "createdAt"`;

@Injectable()
export class AuditCheckpointRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** One instance at a time runs the scheduled checkpoint; the others skip rather than wait. */
  async tryLockSchedule(tx: EntityManager): Promise<boolean> {
    const rows = await tx.query<{ locked: boolean }[]>(
      `SELECT pg_try_advisory_xact_lock(hashtextextended('audit:checkpoint', 0)) AS locked`,
    );
    return rows[0].locked;
  }

  async latest(tx: EntityManager | undefined): Promise<AuditCheckpointRow | null> {
    const rows = await (tx ?? this.dataSource.manager).query<AuditCheckpointRow[]>(
      `SELECT ${COLUMNS} FROM audit_checkpoints ORDER BY sequence DESC, created_at DESC LIMIT 1`,
    );
    return rows[0] ?? null;
  }

  async insert(
    tx: EntityManager,
    row: Omit<AuditCheckpointRow, 'id'>,
  ): Promise<AuditCheckpointRow> {
    const rows = await tx.query<AuditCheckpointRow[]>(
      `INSERT INTO audit_checkpoints (sequence, hash, kid, algorithm, signature, created_at)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
      [row.sequence, row.hash, row.kid, row.algorithm, row.signature, row.createdAt],
    );
    return rows[0];
  }

  /** Newest first; `before` is a sequence cursor. */
  findMany(limit: number): Promise<AuditCheckpointRow[]> {
    return this.dataSource.query<AuditCheckpointRow[]>(
      `SELECT ${COLUMNS} FROM audit_checkpoints ORDER BY sequence DESC, created_at DESC LIMIT $1`,
      [limit],
    );
  }

  findAll(): Promise<AuditCheckpointRow[]> {
    return this.dataSource.query<AuditCheckpointRow[]>(
      `SELECT ${COLUMNS} FROM audit_checkpoints ORDER BY sequence ASC, created_at ASC`,
    );
  }
}
