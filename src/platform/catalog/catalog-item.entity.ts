import {
  Column,
  CreateDateColumn,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
  VersionColumn,
} from 'typeorm';

/**
 * The columns of a catalog item (a product, an entitlement): a unique code fixed at creation, a name and
 * metadata. Each module's entity extends it with its own table.
 */
export abstract class CatalogItemEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  /** Unique; what integrators and applications refer to, so it is fixed at creation. */
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
