import { Injectable, Logger } from '@nestjs/common';
import type { OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';

import { chainHash } from 'src/modules/audit/audit-chain';
import type { ChainedEvent, ChainLink, PendingEvent } from 'src/modules/audit/audit-chain';
import { AuditRepository } from 'src/modules/audit/audit.repository';

// Events per linking transaction: one pass takes what waits, in slices of this size.
const BATCH_SIZE = 1000;
// Events left by a process that died between its commit and its link, or by a link that failed, are
// taken by the next sweep of any instance.
const SWEEP_INTERVAL_MS = 1000;
// How long a commit's link waits for more commits to join it. Nobody waits on this link (readers link
// for themselves), so a few milliseconds buy batches several times larger: fewer passes, less CPU.
const LINGER_MS = 100;

/**
 * Links committed audit events into the hash chain (docs/adr/0012-audit-linking-after-commit.md). A
 * mutation writes its event to audit_pending in its own transaction and takes no lock; once that
 * transaction has committed, Transactions.run calls `afterCommit`, which starts a link without making the
 * mutation wait. A link takes every event committed so far, in one short transaction that holds the chain
 * head, so the chain grows in batches at the rate events commit. Readers (get, list, export, verify,
 * head) on any instance link what waits before they read, so a caller always reads its own events; the
 * sweep links what a process left when it died between its commit and its link.
 */
@Injectable()
export class AuditLinker implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(AuditLinker.name);
  /** The pass that has not locked the head yet: a call now is served by it. */
  private joinable: Promise<void> | null = null;
  private readonly passes = new Set<Promise<void>>();
  private sweeper: NodeJS.Timeout | undefined;
  private lingering: NodeJS.Timeout | null = null;
  // Set on shutdown: what commits after it waits in audit_pending for the next linker of any instance.
  private stopped = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly events: AuditRepository,
  ) {}

  onModuleInit(): void {
    this.sweeper = setInterval(() => {
      this.linkWaiting().catch((error: unknown) =>
        this.logger.error({ err: error, msg: 'the audit link sweep failed; it runs again' }),
      );
    }, SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearInterval(this.sweeper);
    if (this.lingering !== null) {
      clearTimeout(this.lingering);
      this.lingering = null;
      await this.linkQuietly();
    }
    await Promise.allSettled([...this.passes]);
  }

  /** The after-commit hook of a transaction that wrote an audit event (one reference: run once). */
  readonly afterCommit = (): void => {
    if (this.stopped || this.lingering !== null) {
      return;
    }
    this.lingering = setTimeout(() => {
      this.lingering = null;
      void this.linkQuietly();
    }, LINGER_MS);
    this.lingering.unref();
  };

  /**
   * Resolves once every event committed before the call is in the chain. A pass takes its snapshot after
   * it has locked the chain head; until then, later calls join it. So while one pass holds the head, the
   * next already waits for it in PostgreSQL, collecting every commit that arrives meanwhile.
   */
  link(): Promise<void> {
    if (this.joinable === null) {
      const pass: Promise<void> = this.pass(() => this.closeToJoiners(pass)).finally(() => {
        this.closeToJoiners(pass);
        this.passes.delete(pass);
      });
      this.joinable = pass;
      this.passes.add(pass);
    }
    return this.joinable;
  }

  private closeToJoiners(pass: Promise<void>): void {
    if (this.joinable === pass) {
      this.joinable = null;
    }
  }

  /** Links what is already committed, if anything is; for readers that must see every event. */
  async linkWaiting(): Promise<void> {
    if (await this.events.hasPending()) {
      await this.link();
    }
  }

  private async linkQuietly(): Promise<void> {
    try {
      await this.link();
    } catch (error) {
      // The mutation has committed and its event waits; the sweep links it later.
      this.logger.error({ err: error, msg: 'linking audit events failed; the sweep retries' });
    }
  }

  /** Links what waits, in batches; `locked` is called once the first batch holds the head. */
  private async pass(locked: () => void): Promise<void> {
    let linked: number;
    let first = true;
    do {
      linked = await this.dataSource.transaction(async (tx) => {
        // Waits for any other linker, of this instance or another: the head lock makes this one the only
        // linker, and the next statement's snapshot, taken after the lock, sees every event committed
        // before it.
        const head = await this.events.lockHead(tx);
        if (first) {
          first = false;
          locked();
        }
        const pending = await this.events.takePending(tx, BATCH_SIZE);
        if (pending.length > 0) {
          await this.events.appendLinked(tx, chain(head, pending));
        }
        return pending.length;
      });
    } while (linked === BATCH_SIZE);
  }
}

/** Numbers and hashes `pending` onward from `head`, in order. */
function chain(head: ChainLink, pending: readonly PendingEvent[]): ChainedEvent[] {
  let previous = head;
  return pending.map((event) => {
    const fields = { ...event, sequence: previous.sequence + 1 };
    const linked = { ...fields, prevHash: previous.hash, hash: chainHash(previous.hash, fields) };
    previous = linked;
    return linked;
  });
}
