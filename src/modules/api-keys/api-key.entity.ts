import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

import type { Actor } from 'src/platform/auth/actor';
import type { Permission } from 'src/platform/auth/permission';

@Entity({ name: 'api_keys' })
export class ApiKeyEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'text' })
  name: string;

  /** The first characters of the key, shown in lists so people can tell keys apart. */
  @Column({ type: 'text' })
  prefix: string;

  /** Keyed hash of the whole key: the key itself is never stored and cannot be shown again. */
  @Column({ type: 'text' })
  secretHash: string;

  @Column({ type: 'text', array: true })
  permissions: Permission[];

  /** Empty: any address. */
  @Column({ type: 'text', array: true })
  allowedCidrs: string[];

  @Column({ type: 'text' })
  createdByType: Actor['type'];

  @Column({ type: 'uuid', nullable: true })
  createdById: string | null;

  @Column({ type: 'timestamptz' })
  expiresAt: Date;

  @Column({ type: 'timestamptz', nullable: true })
  lastUsedAt: Date | null;

  @Column({ type: 'timestamptz', nullable: true })
  revokedAt: Date | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;
}
