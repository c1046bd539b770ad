import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

import type { AuditEntry } from 'src/modules/audit/audit.dto';
import { AuditService } from 'src/modules/audit/audit.service';
import type { Actor } from 'src/platform/auth/actor';
import { OutboxRepository } from 'src/platform/outbox/outbox.repository';
import { addUsage } from 'src/platform/usage/usage-deltas';
import type { UsageDelta } from 'src/platform/usage/usage-deltas';

/** An outbox event announcing a change to webhook subscribers. */
export interface ChangeEvent {
  /** The audit action unless given. */
  readonly type?: string;
  /** The stream the event is numbered in: the audited target's unless given. */
  readonly aggregateType?: string;
  readonly aggregateId?: string;
  readonly data: Record<string, unknown>;
}

/** A change as the audit log records it, and the event(s) announcing it; no event: audited only. */
export interface Change extends AuditEntry {
  readonly event?: ChangeEvent | readonly ChangeEvent[];
  /** What the reports count of it (docs/reports.md). */
  readonly usage?: readonly UsageDelta[];
}

/**
 * Records a change: its outbox event(s), its audit row and its usage counts, together, in the caller's
 * transaction.
 */
@Injectable()
export class ChangeRecorder {
  constructor(
    private readonly audit: AuditService,
    private readonly outbox: OutboxRepository,
  ) {}

  /**
   * The events and the audit row, in `tx` (from Transactions.run): rolled back with the caller, it leaves
   * neither; committed, the audit row is linked into the chain right after (AuditService.record).
   */
  async record(tx: EntityManager, actor: Actor, change: Change): Promise<void> {
    const { event, usage, ...entry } = change;
    const events: readonly ChangeEvent[] =
      event === undefined ? [] : 'data' in event ? [event] : event;
    for (const { type, aggregateType, aggregateId, data } of events) {
      await this.outbox.add(tx, {
        type: type ?? entry.action,
        aggregateType: aggregateType ?? entry.targetType,
        aggregateId: aggregateId ?? targetIdOf(entry),
        data,
      });
    }
    await addUsage(tx, usage ?? []);
    await this.audit.record(tx, actor, entry);
  }
}

function targetIdOf(entry: AuditEntry): string {
  if (entry.targetId === null) {
    throw new Error(`${entry.action}: an event about no target needs its aggregateId`);
  }
  return entry.targetId;
}
