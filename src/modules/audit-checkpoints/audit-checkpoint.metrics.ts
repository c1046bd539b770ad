import { Inject, Injectable } from '@nestjs/common';

import { APP_CONFIG } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';
import { AuditCheckpointRepository } from 'src/modules/audit-checkpoints/audit-checkpoint.repository';
import { AuditService } from 'src/modules/audit/audit.service';
import { Metrics } from 'src/platform/metrics/metrics';

/**
 * The audit chain against its signed checkpoints, refreshed on the metrics interval (one row each, by
 * primary key and by index).
 */
@Injectable()
export class AuditCheckpointMetrics {
  constructor(
    metrics: Metrics,
    audit: AuditService,
    checkpoints: AuditCheckpointRepository,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    const head = metrics.gauge({
      name: 'tessera_audit_chain_head_sequence',
      help: 'Sequence of the newest audit event (the head of the hash chain).',
    });
    const unlinked = metrics.gauge({
      name: 'tessera_audit_unlinked_events',
      help: 'Audit events committed but not yet linked into the hash chain (read before linking).',
    });
    const oldestUnlinked = metrics.gauge({
      name: 'tessera_audit_oldest_unlinked_seconds',
      help: 'How long the oldest audit event not yet linked into the chain has waited (0: none).',
    });
    const checkpointSequence = metrics.gauge({
      name: 'tessera_audit_checkpoint_sequence',
      help: 'Sequence of the audit chain head signed by the newest checkpoint (0: none yet).',
    });
    const checkpointAge = metrics.gauge({
      name: 'tessera_audit_checkpoint_age_seconds',
      help: 'Age of the newest signed audit checkpoint (+Inf: none yet).',
    });
    metrics
      .gauge({
        name: 'tessera_audit_checkpoint_interval_seconds',
        help: 'AUDIT_CHECKPOINT_INTERVAL_MINUTES in seconds (0: scheduled checkpoints off).',
      })
      .set(config.signing.auditCheckpointMinutes * 60);
    metrics.onRefresh('audit', async () => {
      // Before head(), which links what waits: the gauges show what the linkers left.
      const backlog = await audit.pending();
      unlinked.set(backlog.events);
      oldestUnlinked.set(backlog.oldestSeconds);
      const [link, latest] = await Promise.all([audit.head(), checkpoints.latest(undefined)]);
      head.set(link.sequence);
      checkpointSequence.set(latest?.sequence ?? 0);
      checkpointAge.set(
        latest === null ? Infinity : Math.max(0, (Date.now() - latest.createdAt.getTime()) / 1000),
      );
    });
  }
}
