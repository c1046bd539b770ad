import { Inject, Injectable } from '@nestjs/common';

import { APP_CONFIG } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';
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

/** Signer operations (latency, errors) by backend, bound once to this process's backend. */
@Injectable()
export class SigningMetrics {
  readonly duration: Record<SignerOperation, Observer>;
  readonly errors: Record<SignerOperation, Increment>;

  constructor(metrics: Metrics, @Inject(APP_CONFIG) config: AppConfig) {
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
  }
}
