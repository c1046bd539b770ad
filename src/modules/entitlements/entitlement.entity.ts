import {
  Column,
  CreateDateColumn,
  Entity,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
  VersionColumn,
} from 'typeorm';

/** A named feature a policy or license grants, e.g. `feature.export-pdf`. */
@Entity({ name: 'entitlements' })
export class EntitlementEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  /** Unique; what applications check and license files carry, so it is fixed at creation. */
  @Column({ type: 'text' })
  code: string;

  @Column({ type: 'text' })
  name: string;

  @Column({ type: 'jsonb' })
  metadata: Record<string, unknown>;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt: Date;

  @VersionColumn()
  version: number;
}
