import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';

import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

import {
  checkHead,
  checkLink,
  diffChanges,
  GENESIS_HASH,
  redactSecrets,
  toJson,
} from 'src/modules/audit/audit-chain';
import type { ChainLink, JsonObject } from 'src/modules/audit/audit-chain';
import { AuditLinker } from 'src/modules/audit/audit-linker';
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
import { afterCommit, Transactions } from 'src/platform/database/transaction';
import { decodeCursor, InvalidCursor, page } from 'src/platform/http/pagination';

// Rows per query when verifying or exporting: memory stays flat however long the log is.
const BATCH_SIZE = 1000;

/** The tamper-evident audit log: every mutation and security event, hash-chained after commit. */
@Injectable()
export class AuditService {
  constructor(
    private readonly events: AuditRepository,
    private readonly linker: AuditLinker,
    private readonly transactions: Transactions,
  ) {}

  /**
   * Writes an event in the caller's transaction, which must come from Transactions.run: rolled back with
   * it, it leaves nothing; committed, it is linked into the chain right after (AuditLinker), and every read
   * of the log links it first. It takes no lock, so audited writes wait neither for each other nor for the
   * chain.
   */
  async record(tx: EntityManager, actor: Actor, entry: AuditEntry): Promise<string> {
    const id = randomUUID();
    await this.events.addPending(tx, {
      id,
      occurredAt: new Date().toISOString(),
      actorType: actor.type,
      actorId: actor.id,
      actorIp: actor.ip ?? null,
      userAgent: actor.userAgent ?? null,
      requestId: actor.requestId ?? null,
      action: entry.action,
      targetType: entry.targetType,
      targetId: entry.targetId,
      changes: diffChanges(entry.before, entry.after),
      metadata: redactSecrets(toJson(entry.metadata ?? {})) as JsonObject,
    });
    afterCommit(tx, this.linker.afterCommit);
    return id;
  }

  /** For security events with no business change (a failed login, a denied permission). */
  recordAlone(actor: Actor, entry: AuditEntry): Promise<string> {
    return this.transactions.run((tx) => this.record(tx, actor, entry));
  }

  /** One event of the chain by id, linking what waits first; null if there is none. */
  async get(id: string): Promise<AuditEventDto | null> {
    await this.linker.linkWaiting();
    const row = await this.events.findById(id);
    return row === null ? null : toAuditEventDto(row);
  }

  /** Newest first, `limit` per page; the cursor is the last sequence of the previous page. */
  async list(query: AuditEventQueryDto): Promise<AuditEventPageDto> {
    const filter = toFilter(query);
    await this.linker.linkWaiting();
    const before = query.cursor === undefined ? undefined : sequenceOf(query.cursor);
    const rows = await this.events.findNewestFirst(filter, before, query.limit + 1);
    return page(rows, query.limit, toAuditEventDto, (row) => ({ sequence: row.sequence }));
  }

  /** NDJSON, oldest first, read in batches as the consumer pulls. Filters are checked before any output. */
  export(query: AuditFilterDto): Readable {
    return Readable.from(this.ndjson(toFilter(query)));
  }

  /**
   * Links what waits, then recomputes the whole chain from one snapshot and checks the head table against
   * its last event. Reports the first broken link, and how many events verified before it; `pending`
   * counts events committed since, not yet linked.
   */
  async verify(): Promise<AuditVerifyResult> {
    await this.linker.linkWaiting();
    return this.events.snapshot(async (tx): Promise<AuditVerifyResult> => {
      const { events: pending } = await this.events.pendingBacklog(tx);
      let last: ChainLink = { sequence: 0, hash: GENESIS_HASH };
      let checked = 0;
      for await (const batch of this.batches({}, tx)) {
        for (const event of batch) {
          const broken = checkLink(last, event);
          if (broken !== null) {
            return { ok: false, checked, pending, brokenAt: broken };
          }
          last = { sequence: event.sequence, hash: event.hash };
          checked += 1;
        }
      }
      const broken = checkHead(last, await this.events.getHead(tx));
      if (broken !== null) {
        return { ok: false, checked, pending, brokenAt: broken };
      }
      return { ok: true, checked, pending, head: checked === 0 ? null : last };
    });
  }

  /** The chain head, with every committed event linked: the last event's sequence and hash. */
  async head(): Promise<ChainLink> {
    await this.linker.linkWaiting();
    const head = await this.events.snapshot((tx) => this.events.getHead(tx));
    return head ?? { sequence: 0, hash: GENESIS_HASH };
  }

  /**
   * Events committed but not yet linked into the chain, without linking them: normally a fraction of a
   * second's worth; a backlog that ages means no instance manages to link.
   */
  pending(): Promise<{ events: number; oldestSeconds: number }> {
    return this.events.pendingBacklog();
  }

  /** Stored hashes by sequence, for checking signed checkpoints against the chain. */
  hashesAt(sequences: readonly number[]): Promise<Map<number, string>> {
    return this.events.findHashes(sequences);
  }

  private async *ndjson(filter: AuditFilter): AsyncGenerator<string> {
    await this.linker.linkWaiting();
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
