import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { EntityManager } from 'typeorm';

import { MachineEntity } from 'src/modules/licenses/license.entity';
import { DEFAULT_HEARTBEAT_SECONDS } from 'src/modules/licenses/license-validation';

/** Machines (activations), their culling, and the seat counts the metrics report. */
@Injectable()
export class MachineRepository {
  constructor(private readonly dataSource: DataSource) {}

  getMachineByFingerprint(
    licenseId: string,
    fingerprint: string,
    tx?: EntityManager,
  ): Promise<MachineEntity | null> {
    return (tx ?? this.dataSource.manager)
      .getRepository(MachineEntity)
      .findOne({ where: { licenseId, fingerprint } });
  }

  async machineExists(tx: EntityManager, licenseId: string, fingerprint: string): Promise<boolean> {
    return (await tx.getRepository(MachineEntity).count({ where: { licenseId, fingerprint } })) > 0;
  }

  countMachines(tx: EntityManager, licenseId: string): Promise<number> {
    return tx.getRepository(MachineEntity).count({ where: { licenseId } });
  }

  createMachine(tx: EntityManager, machine: Partial<MachineEntity>): Promise<MachineEntity> {
    const repository = tx.getRepository(MachineEntity);
    return repository.save(repository.create(machine));
  }

  getMachine(
    tx: EntityManager | undefined,
    id: string,
    lock = false,
  ): Promise<MachineEntity | null> {
    return (tx ?? this.dataSource.manager).getRepository(MachineEntity).findOne({
      where: { id },
      ...(lock ? { lock: { mode: 'pessimistic_write' as const } } : {}),
    });
  }

  findMachines(
    licenseId: string,
    limit: number,
    afterId: string | undefined,
  ): Promise<MachineEntity[]> {
    const query = this.dataSource
      .getRepository(MachineEntity)
      .createQueryBuilder('m')
      .where('m.license_id = :licenseId', { licenseId })
      .orderBy('m.id', 'ASC')
      .take(limit);
    if (afterId !== undefined) {
      query.andWhere('m.id > :afterId', { afterId });
    }
    return query.getMany();
  }

  saveMachine(tx: EntityManager, machine: MachineEntity): Promise<MachineEntity> {
    return tx.getRepository(MachineEntity).save(machine);
  }

  async deleteMachine(tx: EntityManager, id: string): Promise<void> {
    await tx.getRepository(MachineEntity).delete({ id });
  }

  /**
   * Floating licenses' machines whose last heartbeat (or activation, if none) is older than their policy's
   * heartbeat duration, locked and skipped if another instance is culling them already.
   */
  deadMachines(
    tx: EntityManager,
    now: Date,
    limit: number,
  ): Promise<
    {
      id: string;
      license_id: string;
      fingerprint: string;
      policy_id: string;
      customer_id: string;
    }[]
  > {
    return tx.query(
      `SELECT m.id, m.license_id, m.fingerprint, l.policy_id, l.customer_id FROM machines m
       JOIN licenses l ON l.id = m.license_id JOIN policies p ON p.id = l.policy_id
       WHERE p.floating AND p.require_heartbeat
         AND COALESCE(m.last_heartbeat_at, m.created_at)
             < $1::timestamptz - make_interval(secs => COALESCE(p.heartbeat_duration_seconds, $3))
       ORDER BY m.license_id, m.id LIMIT $2 FOR UPDATE OF m SKIP LOCKED`,
      // Ordered by license: the culler then takes each license's outbox lock in the same order as any
      // other instance culling at once, so two of them cannot deadlock.
      [now, limit, DEFAULT_HEARTBEAT_SECONDS],
    );
  }

  /**
   * Seats per policy for the metrics gauges: machines in use, and seats the ACTIVE unexpired licenses allow
   * (their override, else the policy's limit; Infinity when one is unlimited). One aggregate over licenses
   * and machines, run on the metrics refresh interval, never per scrape.
   */
  async seatUsage(): Promise<
    Array<{ policyId: string; policyName: string; inUse: number; allowed: number }>
  > {
    const rows = await this.dataSource.query<
      {
        policy_id: string;
        policy_name: string;
        in_use: number;
        allowed: number | null;
        unlimited: boolean | null;
      }[]
    >(
      `SELECT p.id AS policy_id, p.name AS policy_name, COALESCE(u.in_use, 0)::int AS in_use,
              a.allowed::float8 AS allowed, a.unlimited
       FROM policies p
       LEFT JOIN (SELECT l.policy_id, count(*) AS in_use
                  FROM machines m JOIN licenses l ON l.id = m.license_id
                  GROUP BY l.policy_id) u ON u.policy_id = p.id
       LEFT JOIN (SELECT l.policy_id,
                         sum(COALESCE(l.max_machines_override, lp.max_machines)) AS allowed,
                         bool_or(COALESCE(l.max_machines_override, lp.max_machines) IS NULL) AS unlimited
                  FROM licenses l JOIN policies lp ON lp.id = l.policy_id
                  WHERE l.status = 'ACTIVE' AND (l.expires_at IS NULL OR l.expires_at > now())
                  GROUP BY l.policy_id) a ON a.policy_id = p.id`,
    );
    return rows.map((row) => ({
      policyId: row.policy_id,
      policyName: row.policy_name,
      inUse: row.in_use,
      allowed: row.unlimited === true ? Infinity : (row.allowed ?? 0),
    }));
  }
}
