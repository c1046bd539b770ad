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
      const [link, latest] = await Promise.all([audit.head(), checkpoints.latest(undefined)]);
      head.set(link.sequence);
      checkpointSequence.set(latest?.sequence ?? 0);
      checkpointAge.set(
        latest === null ? Infinity : Math.max(0, (Date.now() - latest.createdAt.getTime()) / 1000),
      );
    });
  }
}
