import {
  Column,
  CreateDateColumn,
  Entity,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
  VersionColumn,
} from 'typeorm';

import type { KeyScheme } from 'src/modules/licenses/license-key';
import type {
  BaseStatus,
  ExpirationStrategy,
  OverageStrategy,
} from 'src/modules/licenses/license-validation';

/** A template (SKU) licenses are issued from. */
@Entity({ name: 'policies' })
export class PolicyEntity {
  @PrimaryGeneratedColumn('uuid') id: string;
  @Column({ type: 'uuid' }) productId: string;
  @Column({ type: 'text' }) name: string;
  /** Null: perpetual. */
  @Column({ type: 'integer', nullable: true }) durationSeconds: number | null;
  @Column({ type: 'text' }) expirationStrategy: ExpirationStrategy;
  /** Floating: any machines up to the limit; otherwise node-locked. */
  @Column({ type: 'boolean' }) floating: boolean;
  @Column({ type: 'integer', nullable: true }) maxMachines: number | null;
  @Column({ type: 'text' }) overageStrategy: OverageStrategy;
  @Column({ type: 'boolean' }) requireHeartbeat: boolean;
  @Column({ type: 'integer', nullable: true }) heartbeatDurationSeconds: number | null;
  @Column({ type: 'boolean' }) requireCheckIn: boolean;
  @Column({ type: 'integer', nullable: true }) checkInIntervalSeconds: number | null;
  @Column({ type: 'integer', nullable: true }) maxUses: number | null;
  /** How keys of licenses issued from now on are made; a license keeps the key it was issued with. */
  @Column({ type: 'text' }) keyScheme: KeyScheme;
  @Column({ type: 'jsonb' }) metadata: Record<string, unknown>;
  @CreateDateColumn({ type: 'timestamptz' }) createdAt: Date;
  @UpdateDateColumn({ type: 'timestamptz' }) updatedAt: Date;
  @VersionColumn() version: number;
}

@Entity({ name: 'licenses' })
export class LicenseEntity {
  @PrimaryGeneratedColumn('uuid') id: string;
  @Column({ type: 'uuid' }) policyId: string;
  @Column({ type: 'uuid' }) customerId: string;
  /** Keyed hash of the key: the key itself is shown once, at issue. */
  @Column({ type: 'text' }) keyHash: string;
  @Column({ type: 'text' }) keyPrefix: string;
  @Column({ type: 'text', nullable: true }) name: string | null;
  /** Stored status; EXPIRING and EXPIRED are derived from expiresAt and the time. */
  @Column({ type: 'text' }) status: BaseStatus;
  @Column({ type: 'timestamptz', nullable: true }) expiresAt: Date | null;
  @Column({ type: 'integer', nullable: true }) maxMachinesOverride: number | null;
  @Column({ type: 'integer', nullable: true }) maxUsesOverride: number | null;
  @Column({ type: 'integer' }) uses: number;
  @Column({ type: 'timestamptz', nullable: true }) lastCheckInAt: Date | null;
  @Column({ type: 'timestamptz', nullable: true }) lastValidatedAt: Date | null;
  @Column({ type: 'jsonb' }) metadata: Record<string, unknown>;
  @CreateDateColumn({ type: 'timestamptz' }) createdAt: Date;
  @UpdateDateColumn({ type: 'timestamptz' }) updatedAt: Date;
  @VersionColumn() version: number;
}

/** An activation of a license on one machine, identified by the app's fingerprint. */
@Entity({ name: 'machines' })
export class MachineEntity {
  @PrimaryGeneratedColumn('uuid') id: string;
  @Column({ type: 'uuid' }) licenseId: string;
  @Column({ type: 'text' }) fingerprint: string;
  @Column({ type: 'text', nullable: true }) name: string | null;
  @Column({ type: 'text', nullable: true }) platform: string | null;
  @Column({ type: 'text', nullable: true }) hostname: string | null;
  @Column({ type: 'integer', nullable: true }) cores: number | null;
  /** The app's version, as it reported at activation. */
  @Column({ type: 'text', nullable: true }) version: string | null;
  /** ISO 3166 country of the address that activated (GEOIP_DB_FILE); the address itself is not kept. */
  @Column({ type: 'text', nullable: true }) country: string | null;
  @Column({ type: 'timestamptz', nullable: true }) lastHeartbeatAt: Date | null;
  @CreateDateColumn({ type: 'timestamptz' }) createdAt: Date;
}

/**
 * Marks a row changed when what changed lives in another table (its entitlements), so saving it moves the
 * version (the ETag). Strictly later than the stored time: the same millisecond would be no change at all.
 */
export function touch(row: { updatedAt: Date }, now: Date): void {
  row.updatedAt = new Date(Math.max(now.getTime(), row.updatedAt.getTime() + 1));
}
