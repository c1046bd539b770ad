import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

/**
 * An event written in the same transaction as the change it announces (transactional outbox): it exists
 * if and only if the change committed. The webhook dispatcher reads these rows; nothing else deletes them.
 */
@Entity({ name: 'outbox_events' })
export class OutboxEventEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  /** Past-tense event name, e.g. `license.suspended`. */
  @Column({ type: 'text' })
  type: string;

  @Column({ type: 'text' })
  aggregateType: string;

  @Column({ type: 'uuid' })
  aggregateId: string;

  /** Strictly increasing per aggregate, so receivers can detect gaps and reorder. */
  @Column({ type: 'bigint' })
  sequence: string;

  @Column({ type: 'jsonb' })
  data: Record<string, unknown>;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  /** Set once the dispatcher has fanned the event out to the subscribed endpoints. */
  @Column({ type: 'timestamptz', nullable: true })
  dispatchedAt: Date | null;
}
