import { Injectable } from '@nestjs/common';

import { VALIDATION_CODES } from 'src/modules/licenses/license-validation';
import type { ValidationCode } from 'src/modules/licenses/license-validation';
import { MachineRepository } from 'src/modules/licenses/machine.repository';
import { Metrics } from 'src/platform/metrics/metrics';
import type { Increment } from 'src/platform/metrics/metrics';

/**
 * Validations by result code and activations, counted where they happen (label children bound once, so
 * the validation hot path adds one lookup and one increment, ~0.1 µs); seats per policy from one aggregate
 * query on the metrics refresh interval.
 */
@Injectable()
export class LicenseMetrics {
  readonly validations: Record<ValidationCode, Increment>;
  readonly activations: Increment;
  readonly deactivations: Record<'manual' | 'culled', Increment>;

  constructor(metrics: Metrics, machines: MachineRepository) {
    const validations = metrics.counter({
      name: 'tessera_license_validations_total',
      help: 'License validations (POST /v1/licenses/actions/validate-key) by result code.',
      labelNames: ['code'],
    });
    this.validations = metrics.children(validations, VALIDATION_CODES);

    this.activations = metrics.counter({
      name: 'tessera_machine_activations_total',
      help: 'Machines activated on a license (seats taken).',
    });
    const deactivations = metrics.counter({
      name: 'tessera_machine_deactivations_total',
      help: 'Machines removed from a license (seats freed), by reason: manual, or culled for a dead heartbeat.',
      labelNames: ['reason'],
    });
    this.deactivations = metrics.children(deactivations, ['manual', 'culled']);

    const inUse = metrics.gauge({
      name: 'tessera_policy_seats_in_use',
      help: 'Machines activated on the licenses of a policy.',
      labelNames: ['policy_id', 'policy'],
    });
    const allowed = metrics.gauge({
      name: 'tessera_policy_seats_allowed',
      help: 'Seats the ACTIVE, unexpired licenses of a policy allow (+Inf when one of them is unlimited).',
      labelNames: ['policy_id', 'policy'],
    });
    metrics.onRefresh('seats', async () => {
      const rows = await machines.seatUsage();
      // Reset and set in one synchronous step: a scrape sees the old set or the new one, and deleted
      // or renamed policies leave no stale series behind.
      inUse.reset();
      allowed.reset();
      for (const row of rows) {
        inUse.labels(row.policyId, row.policyName).set(row.inUse);
        allowed.labels(row.policyId, row.policyName).set(row.allowed);
      }
    });
  }
}
