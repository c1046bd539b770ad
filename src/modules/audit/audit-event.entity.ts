import { Column, Entity, PrimaryColumn } from 'typeorm';

import type { AuditChanges } from 'src/modules/audit/audit-chain';

/**
 * One link of the tamper-evident audit chain. Rows are only ever inserted, by AuditLinker; a
 * trigger rejects UPDATE, DELETE and TRUNCATE. `hash` covers every other column but `prev_hash`, which it
 * chains from (see docs/adr/0003-audit-hash-chain.md).
 */
@Entity({ name: 'audit_events' })
export class AuditEventEntity {
  @PrimaryColumn({ type: 'uuid' })
  id: string;

  /** Gapless from 1, in link order (docs/adr/0012-audit-linking-after-commit.md). */
  @Column({ type: 'bigint' })
  sequence: string;

  @Column({ type: 'timestamptz' })
  occurredAt: Date;

  @Column({ type: 'text' })
  actorType: string;

  @Column({ type: 'text', nullable: true })
  actorId: string | null;

  @Column({ type: 'text', nullable: true })
  actorIp: string | null;

  @Column({ type: 'text', nullable: true })
  userAgent: string | null;

  @Column({ type: 'text', nullable: true })
  requestId: string | null;

  /** Past tense, `<resource>.<event>`: `license.suspended`, `auth.login-failed`. */
  @Column({ type: 'text' })
  action: string;

  @Column({ type: 'text' })
  targetType: string;

  @Column({ type: 'text', nullable: true })
  targetId: string | null;

  /** Changed fields only, secrets redacted. */
  @Column({ type: 'jsonb', nullable: true })
  changes: AuditChanges | null;

  @Column({ type: 'jsonb' })
  metadata: Record<string, unknown>;

  @Column({ type: 'text' })
  prevHash: string;

  @Column({ type: 'text' })
  hash: string;
}
