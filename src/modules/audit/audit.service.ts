import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';

import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

import {
  chainHash,
  checkHead,
  checkLink,
  diffChanges,
  GENESIS_HASH,
  redactSecrets,
  toJson,
} from 'src/modules/audit/audit-chain';
import type { AuditEventFields, ChainLink, JsonObject } from 'src/modules/audit/audit-chain';
import type { AuditEventEntity } from 'src/modules/audit/audit-event.entity';
import type {
  AuditEntry,
  AuditEventDto,
  AuditEventPageDto,
  AuditEventQueryDto,
  AuditFilterDto,
  AuditVerifyResult,
} from 'src/modules/audit/audit.dto';
import { InvalidTimeRange } from 'src/modules/audit/audit.errors';
import { AuditRepository } from 'src/modules/audit/audit.repository';
import type { AuditFilter } from 'src/modules/audit/audit.repository';
import type { Actor } from 'src/platform/auth/actor';
import { Transactions } from 'src/platform/database/transaction';
import { decodeCursor, InvalidCursor, page } from 'src/platform/http/pagination';

// Rows per query when verifying or exporting: memory stays flat however long the log is.
const BATCH_SIZE = 1000;

/** The tamper-evident audit log: every mutation and security event, hash-chained in commit order. */
@Injectable()
export class AuditService {
  constructor(
    private readonly events: AuditRepository,
    private readonly transactions: Transactions,
  ) {}

  /**
   * Appends an event inside the caller's transaction (READ COMMITTED, the default). It locks the chain head
   * until that transaction ends, so every other audited write waits for this one to commit: call it as the
   * transaction's last statement. Rolled back with the caller, it leaves neither an event nor a gap.
   */
  async record(tx: EntityManager, actor: Actor, entry: AuditEntry): Promise<AuditEventDto> {
    const changes = diffChanges(entry.before, entry.after);
    const metadata = redactSecrets(toJson(entry.metadata ?? {})) as JsonObject;
    const head = await this.events.lockHead(tx);
    const fields: AuditEventFields = {
      id: randomUUID(),
      sequence: head.sequence + 1,
      // Read under the lock, so times follow the sequence (as far as the clock does).
      occurredAt: new Date().toISOString(),
      actorType: actor.type,
      actorId: actor.id,
      actorIp: actor.ip ?? null,
      userAgent: actor.userAgent ?? null,
      requestId: actor.requestId ?? null,
      action: entry.action,
      targetType: entry.targetType,
      targetId: entry.targetId,
      changes,
      metadata,
    };
    const event = { ...fields, prevHash: head.hash, hash: chainHash(head.hash, fields) };
    await this.events.append(tx, event);
    return event;
  }

  /**
   * For security events with no business change (a failed login, a denied permission): a transaction of
   * its own. Never call it inside a transaction that already called record(): it would wait on that lock.
   */
  recordAlone(actor: Actor, entry: AuditEntry): Promise<AuditEventDto> {
    return this.transactions.run((tx) => this.record(tx, actor, entry));
  }

  /** Newest first, `limit` per page; the cursor is the last sequence of the previous page. */
  async list(query: AuditEventQueryDto): Promise<AuditEventPageDto> {
    const filter = toFilter(query);
    const before = query.cursor === undefined ? undefined : sequenceOf(query.cursor);
    const rows = await this.events.findNewestFirst(filter, before, query.limit + 1);
    return page(rows, query.limit, toAuditEventDto, (row) => ({ sequence: row.sequence }));
  }

  /** NDJSON, oldest first, read in batches as the consumer pulls. Filters are checked before any output. */
  export(query: AuditFilterDto): Readable {
    return Readable.from(this.ndjson(toFilter(query)));
  }

  /**
   * Recomputes the whole chain from one snapshot and checks the head table against its last event. Reports
   * the first broken link, and how many events verified before it.
   */
  verify(): Promise<AuditVerifyResult> {
    return this.events.snapshot(async (tx): Promise<AuditVerifyResult> => {
      let last: ChainLink = { sequence: 0, hash: GENESIS_HASH };
      let checked = 0;
      for await (const batch of this.batches({}, tx)) {
        for (const event of batch) {
          const broken = checkLink(last, event);
          if (broken !== null) {
            return { ok: false, checked, brokenAt: broken };
          }
          last = { sequence: event.sequence, hash: event.hash };
          checked += 1;
        }
      }
      const broken = checkHead(last, await this.events.getHead(tx));
      if (broken !== null) {
        return { ok: false, checked, brokenAt: broken };
      }
      return { ok: true, checked, head: checked === 0 ? null : last };
    });
  }

  /** The chain head as committed now: the last event's sequence and hash (0 and zeros when empty). */
  async head(): Promise<ChainLink> {
    const head = await this.events.snapshot((tx) => this.events.getHead(tx));
    return head ?? { sequence: 0, hash: GENESIS_HASH };
  }

  /** Stored hashes by sequence, for checking signed checkpoints against the chain. */
  hashesAt(sequences: readonly number[]): Promise<Map<number, string>> {
    return this.events.findHashes(sequences);
  }

  private async *ndjson(filter: AuditFilter): AsyncGenerator<string> {
    for await (const batch of this.batches(filter)) {
      yield batch.map((event) => `${JSON.stringify(event)}\n`).join('');
    }
  }

  private async *batches(filter: AuditFilter, tx?: EntityManager): AsyncGenerator<AuditEventDto[]> {
    let after = 0;
    for (;;) {
      const rows = await this.events.findAscending(filter, after, BATCH_SIZE, tx);
      if (rows.length > 0) {
        yield rows.map(toAuditEventDto);
      }
      if (rows.length < BATCH_SIZE) {
        return;
      }
      after = Number(rows[rows.length - 1].sequence);
    }
  }
}

function toAuditEventDto(row: AuditEventEntity): AuditEventDto {
  return {
    id: row.id,
    sequence: Number(row.sequence),
    occurredAt: row.occurredAt.toISOString(),
    actorType: row.actorType,
    actorId: row.actorId,
    actorIp: row.actorIp,
    userAgent: row.userAgent,
    requestId: row.requestId,
    action: row.action,
    targetType: row.targetType,
    targetId: row.targetId,
    changes: row.changes,
    metadata: row.metadata,
    prevHash: row.prevHash,
    hash: row.hash,
  };
}

function toFilter(query: AuditFilterDto): AuditFilter {
  const from = timeOf(query.from, 'from');
  const to = timeOf(query.to, 'to');
  if (from !== undefined && to !== undefined && from.getTime() > to.getTime()) {
    throw new InvalidTimeRange();
  }
  return {
    actorType: query.actorType,
    actorId: query.actorId,
    action: query.action,
    targetType: query.targetType,
    targetId: query.targetId,
    from,
    to,
  };
}

function timeOf(value: string | undefined, name: string): Date | undefined {
  if (value === undefined) {
    return undefined;
  }
  // ISO 8601 admits forms (week dates, ordinal dates) that Date cannot read.
  const time = new Date(value);
  if (Number.isNaN(time.getTime())) {
    throw new InvalidTimeRange(`${name} must be a date-time such as 2026-01-31T12:00:00Z.`);
  }
  return time;
}

function sequenceOf(cursor: string): number {
  const { sequence } = decodeCursor(cursor, ['sequence']);
  if (!/^[1-9]\d{0,14}$/.test(sequence)) {
    throw new InvalidCursor();
  }
  return Number(sequence);
}
