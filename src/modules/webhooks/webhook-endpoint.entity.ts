import {
  Column,
  CreateDateColumn,
  Entity,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
  VersionColumn,
} from 'typeorm';

export type DisabledReason = 'manual' | 'gone' | 'failing';

/** Where events are delivered. Its signing secrets are sealed (SecretBox) and leave only once, in plain. */
@Entity({ name: 'webhook_endpoints' })
export class WebhookEndpointEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'text' })
  url: string;

  @Column({ type: 'text', nullable: true })
  description: string | null;

  /** Exact types (`license.suspended`), a noun's wildcard (`license.*`) or `*` for all. */
  @Column({ type: 'text', array: true })
  eventTypes: string[];

  @Column({ type: 'boolean' })
  enabled: boolean;

  @Column({ type: 'timestamptz', nullable: true })
  disabledAt: Date | null;

  @Column({ type: 'text', nullable: true })
  disabledReason: DisabledReason | null;

  /** First failed attempt since the last success; null while healthy. */
  @Column({ type: 'timestamptz', nullable: true })
  failingSince: Date | null;

  @Column({ type: 'text' })
  payloadVersion: string;

  @Column({ type: 'boolean' })
  signEd25519: boolean;

  @Column({ type: 'text' })
  secretSealed: string;

  @Column({ type: 'text', nullable: true })
  previousSecretSealed: string | null;

  @Column({ type: 'timestamptz', nullable: true })
  previousSecretExpiresAt: Date | null;

  @Column({ type: 'timestamptz', nullable: true })
  secretRotatedAt: Date | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt: Date;

  @VersionColumn()
  version: number;
}
