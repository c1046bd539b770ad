import { Injectable, Logger } from '@nestjs/common';
import type { OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

import { ChangeRecorder } from 'src/modules/audit/change-recorder.service';
import {
  effectiveStatus,
  machineAllowance,
  requireUsable,
} from 'src/modules/licenses/license-validation';
import type { ActivateMachineDto, MachineDto } from 'src/modules/licenses/license.dto';
import type { MachineEntity } from 'src/modules/licenses/license.entity';
import {
  FingerprintTaken,
  InvalidLicenseState,
  LicenseNotFound,
  MachineNotFound,
  TooManyMachines,
} from 'src/modules/licenses/license.errors';
import { LicenseMetrics } from 'src/modules/licenses/license.metrics';
import { LicenseRepository } from 'src/modules/licenses/license.repository';
import { MachineRepository } from 'src/modules/licenses/machine.repository';
import { PolicyService } from 'src/modules/licenses/policy.service';
import type { Actor } from 'src/platform/auth/actor';
import { systemActor } from 'src/platform/auth/actor';
import { Clock } from 'src/platform/clock';
import { uniqueViolation } from 'src/platform/database/pg-errors';
import { Transactions } from 'src/platform/database/transaction';
import { GeoIp } from 'src/platform/geoip/geoip';
import { licenseUsage } from 'src/platform/usage/usage-deltas';
import { afterIdOf, page } from 'src/platform/http/pagination';

const CULL_INTERVAL_MS = 60_000;
const CULL_BATCH = 500;

/** The heartbeat routes' refusals, for the OpenAPI document. */
export const HEARTBEAT_REFUSALS =
  '422 LICENSE_SUSPENDED, LICENSE_REVOKED, LICENSE_EXPIRED (restricting strategy) or LICENSE_OVERDUE when ' +
  'validation would deny the license: the heartbeat is not recorded and the seat dies on schedule';

/** Activations. Seat limits hold under concurrency: activation locks the license row, then counts. */
@Injectable()
export class MachineService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(MachineService.name);
  private culler: NodeJS.Timeout | undefined;

  constructor(
    private readonly licenses: LicenseRepository,
    private readonly machines: MachineRepository,
    private readonly policies: PolicyService,
    private readonly transactions: Transactions,
    private readonly changes: ChangeRecorder,
    private readonly clock: Clock,
    private readonly metrics: LicenseMetrics,
    private readonly geoip: GeoIp,
  ) {}

  onModuleInit(): void {
    this.culler = setInterval(() => {
      this.cullDeadMachines().catch((error: unknown) =>
        this.logger.error({ err: error, msg: 'culling dead machines failed' }),
      );
    }, CULL_INTERVAL_MS);
    this.culler.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.culler);
  }

  async activate(actor: Actor, input: ActivateMachineDto): Promise<MachineDto> {
    try {
      const activated = await this.transactions.run(async (tx) => {
        const license = await this.licenses.getLicense(tx, input.licenseId, true);
        if (license === null) {
          throw new LicenseNotFound();
        }
        if (license.status !== 'ACTIVE') {
          throw new InvalidLicenseState(
            'LICENSE_NOT_ACTIVE',
            `A ${license.status.toLowerCase()} license cannot activate machines.`,
          );
        }
        if (await this.machines.machineExists(tx, license.id, input.fingerprint)) {
          throw new FingerprintTaken();
        }
        const policy = await this.policies.require(tx, license.policyId);
        // Past its expiry only ALLOW_ACCESS takes new machines; MAINTAIN_ACCESS keeps the ones it has.
        if (
          effectiveStatus(license.status, license.expiresAt, this.clock.now()) === 'EXPIRED' &&
          policy.expirationStrategy !== 'ALLOW_ACCESS'
        ) {
          throw new InvalidLicenseState(
            'LICENSE_EXPIRED',
            `An expired license (${policy.expirationStrategy}) cannot activate new machines.`,
          );
        }
        const allowance = machineAllowance(
          license.maxMachinesOverride ?? policy.maxMachines,
          policy.overageStrategy,
          policy.floating,
        );
        if ((await this.machines.countMachines(tx, license.id)) >= allowance) {
          throw new TooManyMachines(allowance);
        }
        const machine = await this.machines.createMachine(tx, {
          licenseId: license.id,
          fingerprint: input.fingerprint,
          name: input.name ?? null,
          platform: input.platform ?? null,
          hostname: input.hostname ?? null,
          cores: input.cores ?? null,
          version: input.version ?? null,
          country: this.geoip.country(actor.ip),
          lastHeartbeatAt: null,
        });
        const dto = toMachineDto(machine);
        await this.changes.record(tx, actor, {
          action: 'machine.activated',
          targetType: 'machine',
          targetId: dto.id,
          before: null,
          after: { ...dto },
          event: licenseEvent(dto),
          usage: [licenseUsage('machine', 'activated', license, this.clock.now())],
        });
        return dto;
      });
      // Counted once committed: a rolled-back activation took no seat.
      this.metrics.activations.inc();
      return activated;
    } catch (error) {
      throw uniqueViolation(error, 'uq_machines_license_fingerprint')
        ? new FingerprintTaken()
        : error;
    }
  }

  async deactivate(actor: Actor, id: string): Promise<void> {
    await this.transactions.run(async (tx) => {
      const machine = await this.require(tx, id);
      const license = await this.licenses.getLicense(tx, machine.licenseId, true);
      await this.machines.deleteMachine(tx, id);
      const before = toMachineDto(machine);
      await this.changes.record(tx, actor, {
        action: 'machine.deactivated',
        targetType: 'machine',
        targetId: id,
        before: { ...before },
        after: null,
        event: licenseEvent(before),
        usage:
          license === null
            ? []
            : [licenseUsage('machine', 'deactivated', license, this.clock.now())],
      });
    });
    this.metrics.deactivations.manual.inc();
  }

  async heartbeat(actor: Actor, id: string): Promise<MachineDto> {
    return this.transactions.run(async (tx) => {
      // Locked: a heartbeat racing a deactivation must find the machine gone, not report a ghost.
      const machine = await this.require(tx, id, true);
      // A license validation denies keeps no seat alive: the heartbeat is refused with validation's code,
      // its time stays as it was, and culling frees the seat once the heartbeat duration has passed.
      const license = await this.licenses.getLicense(tx, machine.licenseId);
      if (license === null) {
        throw new LicenseNotFound();
      }
      const now = this.clock.now();
      requireUsable(
        license,
        await this.policies.require(tx, license.policyId),
        now,
        'send heartbeats',
      );
      const before = toMachineDto(machine);
      machine.lastHeartbeatAt = now;
      const dto = toMachineDto(await this.machines.saveMachine(tx, machine));
      await this.changes.record(tx, actor, {
        action: 'machine.heartbeat',
        targetType: 'machine',
        targetId: id,
        before: { ...before },
        after: { ...dto },
        event: licenseEvent(dto),
      });
      return dto;
    });
  }

  async get(id: string): Promise<MachineDto> {
    return toMachineDto(await this.require(undefined, id));
  }

  async list(licenseId: string, limit: number, cursor: string | undefined) {
    const afterId = afterIdOf(cursor);
    const rows = await this.machines.findMachines(licenseId, limit + 1, afterId);
    return page(rows, limit, toMachineDto, (row) => ({ id: row.id }));
  }

  /**
   * Frees the seats of floating licenses' dead machines (no heartbeat within the policy's duration).
   * Safe with several instances: rows are claimed with FOR UPDATE SKIP LOCKED. Returns how many it culled.
   */
  async cullDeadMachines(): Promise<number> {
    const culled = await this.transactions.run(async (tx) => {
      const now = this.clock.now();
      const dead = await this.machines.deadMachines(tx, now, CULL_BATCH);
      for (const machine of dead) {
        await this.machines.deleteMachine(tx, machine.id);
      }
      if (dead.length > 0) {
        await this.changes.record(tx, systemActor(), {
          action: 'machine.culled',
          targetType: 'machine',
          targetId: null,
          metadata: { machines: dead.map((m) => m.id), reason: 'heartbeat-dead' },
          event: dead.map((machine) => ({
            aggregateType: 'license',
            aggregateId: machine.license_id,
            data: {
              id: machine.id,
              licenseId: machine.license_id,
              fingerprint: machine.fingerprint,
            },
          })),
          usage: dead.map((machine) =>
            licenseUsage(
              'machine',
              'culled',
              { policyId: machine.policy_id, customerId: machine.customer_id },
              now,
            ),
          ),
        });
      }
      return dead.length;
    });
    this.metrics.deactivations.culled.inc(culled);
    return culled;
  }

  private async require(
    tx: EntityManager | undefined,
    id: string,
    lock = false,
  ): Promise<MachineEntity> {
    const machine = await this.machines.getMachine(tx, id, lock);
    if (machine === null) {
      throw new MachineNotFound();
    }
    return machine;
  }
}

/** Machine events belong to their license's stream, so receivers see one ordered sequence per license. */
function licenseEvent(machine: MachineDto) {
  return { aggregateType: 'license', aggregateId: machine.licenseId, data: { ...machine } };
}

export function toMachineDto(machine: MachineEntity): MachineDto {
  return {
    id: machine.id,
    licenseId: machine.licenseId,
    fingerprint: machine.fingerprint,
    name: machine.name,
    platform: machine.platform,
    hostname: machine.hostname,
    cores: machine.cores,
    version: machine.version,
    country: machine.country,
    lastHeartbeatAt: machine.lastHeartbeatAt?.toISOString() ?? null,
    createdAt: machine.createdAt.toISOString(),
  };
}
