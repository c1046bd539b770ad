import { Inject, Injectable } from '@nestjs/common';

import { ChangeRecorder } from 'src/modules/audit/change-recorder.service';
import { SIGNER } from 'src/modules/signing/signer';
import type { Signer, StoredKey } from 'src/modules/signing/signer';
import { SigningKeyRepository } from 'src/modules/signing/signing-key.repository';
import type { Actor } from 'src/platform/auth/actor';
import { Transactions } from 'src/platform/database/transaction';

export interface OrphanKey extends StoredKey {
  /** Whether this sweep deleted it from the signer. */
  readonly deleted: boolean;
}

/**
 * Keys in the signer that no row of the key ring names: left by a process that died between generating a
 * key and committing its row (key creation itself destroys what a failed transaction generated). Listed
 * by default, deleted only on request, and a key whose label or kid a row names is never touched,
 * whatever its state: a retired or revoked key still verifies what it signed.
 */
@Injectable()
export class SigningKeyOrphanService {
  constructor(
    @Inject(SIGNER) private readonly signer: Signer,
    private readonly keys: SigningKeyRepository,
    private readonly transactions: Transactions,
    private readonly changes: ChangeRecorder,
  ) {}

  sweep(actor: Actor, options: { delete: boolean }): Promise<OrphanKey[]> {
    return this.transactions.run(async (tx) => {
      // Exclusive: waits for every key creation in flight to commit or roll back, and holds new ones off
      // until the sweep ends, so a key being created is never taken for an orphan.
      await this.keys.lockKeyGeneration(tx, 'exclusive');
      const rows = await this.keys.findHandles(tx);
      const labels = new Set(rows.map((row) => row.hsmLabel));
      const kids = new Set(rows.map((row) => row.kid));
      const orphans = (await this.signer.storedKeys()).filter(
        (key) => !labels.has(key.label) && !kids.has(key.kid),
      );
      if (!options.delete || orphans.length === 0) {
        return orphans.map((key) => ({ ...key, deleted: false }));
      }
      for (const key of orphans) {
        await this.signer.destroy({ kid: key.kid, hsmLabel: key.label });
      }
      await this.changes.record(tx, actor, {
        action: 'signing-key.orphans-deleted',
        targetType: 'signing-key',
        targetId: null,
        metadata: { labels: orphans.map((key) => key.label), backend: this.signer.backend },
      });
      return orphans.map((key) => ({ ...key, deleted: true }));
    });
  }
}
