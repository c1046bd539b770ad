import { Inject, Injectable } from '@nestjs/common';

import { APP_CONFIG } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';
import { AuditService } from 'src/modules/audit/audit.service';
import { AuditCheckpointRepository } from 'src/modules/signing/audit-checkpoint.repository';
import { Metrics } from 'src/platform/metrics/metrics';

/** From an in-process Ed25519 signature (~40 µs) to a network HSM timing out (seconds). */
const SIGNER_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

export type SignerOperation = 'sign' | 'generate';

interface Observer {
  observe(seconds: number): void;
}
interface Increment {
  inc(): void;
}

/**
 * Signer operations (latency, errors) by backend, bound once to this process's backend; and the audit
 * chain against its signed checkpoints (refreshed on the metrics interval: one row each, by primary key
 * and by index).
 */
@Injectable()
export class SigningMetrics {
  readonly duration: Record<SignerOperation, Observer>;
  readonly errors: Record<SignerOperation, Increment>;

  constructor(
    metrics: Metrics,
    audit: AuditService,
    checkpoints: AuditCheckpointRepository,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    const backend = config.signing.backend;
    const duration = metrics.histogram({
      name: 'tessera_signer_operation_duration_seconds',
      help: 'Signer operations (sign, generate) by backend: latency; the _count is the number of operations.',
      labelNames: ['backend', 'operation'],
      buckets: SIGNER_BUCKETS,
    });
    const errors = metrics.counter({
      name: 'tessera_signer_errors_total',
      help: 'Signer operations that failed (HSM unreachable, session error), by backend and operation.',
      labelNames: ['backend', 'operation'],
    });
    this.duration = {
      sign: duration.labels(backend, 'sign'),
      generate: duration.labels(backend, 'generate'),
    };
    this.errors = {
      sign: errors.labels(backend, 'sign'),
      generate: errors.labels(backend, 'generate'),
    };
    // Zero-valued series from the start, so rate() and alerts see them before the first error.
    errors.labels(backend, 'sign').inc(0);
    errors.labels(backend, 'generate').inc(0);

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
