import { createHash } from 'node:crypto';

/** The hash the first event chains from. */
export const GENESIS_HASH = '0'.repeat(64);

export const REDACTED = '[redacted]';

// Keys whose values never enter the audit log, at any depth.
const SECRET_KEY = /password|secret|token|totp|recovery|key_?hash|pin/i;

export type JsonObject = Record<string, unknown>;

/** Only the fields that changed: `before` is null for a creation, `after` is null for a deletion. */
export interface AuditChanges {
  readonly before: JsonObject | null;
  readonly after: JsonObject | null;
}

/** Everything the hash covers: an event without `prevHash` and `hash`. */
export interface AuditEventFields {
  readonly id: string;
  readonly sequence: number;
  /** ISO 8601 with milliseconds, UTC. */
  readonly occurredAt: string;
  readonly actorType: string;
  readonly actorId: string | null;
  readonly actorIp: string | null;
  readonly userAgent: string | null;
  readonly requestId: string | null;
  readonly action: string;
  readonly targetType: string;
  readonly targetId: string | null;
  readonly changes: AuditChanges | null;
  readonly metadata: JsonObject;
}

/** An event as its mutation's transaction writes it: its place in the chain is given when it is linked. */
export type PendingEvent = Omit<AuditEventFields, 'sequence'>;

export interface ChainedEvent extends AuditEventFields {
  readonly prevHash: string;
  readonly hash: string;
}

/** A position in the chain: the head table, or the last event verified. */
export interface ChainLink {
  readonly sequence: number;
  readonly hash: string;
}

export type BrokenReason =
  'sequence gap' | 'prev_hash mismatch' | 'hash mismatch' | 'head mismatch';

export interface BrokenLink {
  readonly sequence: number;
  readonly reason: BrokenReason;
}

/**
 * JSON with object keys sorted recursively (by UTF-16 code units, as RFC 8785 does), no whitespace, and
 * dates as ISO strings with milliseconds. Undefined object members are dropped, as JSON.stringify does.
 */
export function canonicalJson(value: unknown): string {
  if (value instanceof Date) {
    return JSON.stringify(value.toISOString());
  }
  if (Array.isArray(value)) {
    return `[${value.map((item) => canonicalJson(item ?? null)).join(',')}]`;
  }
  if (typeof value === 'object' && value !== null) {
    const object = value as JsonObject;
    const members = Object.keys(object)
      .filter((key) => object[key] !== undefined)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(object[key])}`);
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** `SHA-256(prevHash || canonicalJson(event))` in hex, over exactly the fields of `AuditEventFields`. */
export function chainHash(prevHash: string, event: AuditEventFields): string {
  const hashed: AuditEventFields = {
    id: event.id,
    sequence: event.sequence,
    occurredAt: event.occurredAt,
    actorType: event.actorType,
    actorId: event.actorId,
    actorIp: event.actorIp,
    userAgent: event.userAgent,
    requestId: event.requestId,
    action: event.action,
    targetType: event.targetType,
    targetId: event.targetId,
    changes: event.changes,
    metadata: event.metadata,
  };
  return createHash('sha256').update(prevHash).update(canonicalJson(hashed)).digest('hex');
}

/**
 * The value as PostgreSQL's jsonb will give it back (dates become strings, undefined members vanish), so
 * the hash computed before the insert is the hash recomputed from the stored row.
 */
export function toJson(value: JsonObject): JsonObject {
  return JSON.parse(JSON.stringify(value)) as JsonObject;
}

/** Replaces the value of every secret-looking key, at any depth, with `[redacted]`. */
export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(redactSecrets);
  }
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([key, member]) => [
        key,
        SECRET_KEY.test(key) ? REDACTED : redactSecrets(member),
      ]),
    );
  }
  return value;
}

/**
 * The changed top-level fields of `before` and `after`, secrets redacted. Secrets are redacted after
 * diffing, so a changed password still shows as changed. Null when nothing changed.
 */
export function diffChanges(
  before: JsonObject | null | undefined,
  after: JsonObject | null | undefined,
): AuditChanges | null {
  const old = before === null || before === undefined ? null : toJson(before);
  const next = after === null || after === undefined ? null : toJson(after);
  if (old === null && next === null) {
    return null;
  }
  if (old === null || next === null) {
    return redactSecrets({ before: old, after: next }) as AuditChanges;
  }
  const changedBefore: JsonObject = {};
  const changedAfter: JsonObject = {};
  for (const key of new Set([...Object.keys(old), ...Object.keys(next)])) {
    const inOld = Object.hasOwn(old, key);
    const inNext = Object.hasOwn(next, key);
    if (inOld === inNext && canonicalJson(old[key]) === canonicalJson(next[key])) {
      continue;
    }
    if (inOld) {
      changedBefore[key] = old[key];
    }
    if (inNext) {
      changedAfter[key] = next[key];
    }
  }
  if (Object.keys(changedBefore).length === 0 && Object.keys(changedAfter).length === 0) {
    return null;
  }
  return redactSecrets({ before: changedBefore, after: changedAfter }) as AuditChanges;
}

/** Checks one event against the link before it; the break, if any, names the first bad sequence. */
export function checkLink(previous: ChainLink, event: ChainedEvent): BrokenLink | null {
  if (event.sequence !== previous.sequence + 1) {
    return { sequence: previous.sequence + 1, reason: 'sequence gap' };
  }
  if (event.prevHash !== previous.hash) {
    return { sequence: event.sequence, reason: 'prev_hash mismatch' };
  }
  if (chainHash(event.prevHash, event) !== event.hash) {
    return { sequence: event.sequence, reason: 'hash mismatch' };
  }
  return null;
}

/** Checks the head table against the last event of a chain that verified up to `last`. */
export function checkHead(last: ChainLink, head: ChainLink | null): BrokenLink | null {
  if (head === null) {
    return { sequence: last.sequence, reason: 'head mismatch' };
  }
  if (head.sequence > last.sequence) {
    // The head has seen events that are no longer there: the tail was deleted.
    return { sequence: last.sequence + 1, reason: 'sequence gap' };
  }
  if (head.sequence < last.sequence) {
    // Events exist past the head: they were written around record().
    return { sequence: head.sequence + 1, reason: 'head mismatch' };
  }
  if (head.hash !== last.hash) {
    return { sequence: head.sequence, reason: 'head mismatch' };
  }
  return null;
}
