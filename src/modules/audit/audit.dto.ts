import { ApiProperty, ApiPropertyOptional, IntersectionType } from '@nestjs/swagger';
import { IsIn, IsISO8601, IsOptional, IsString, MaxLength } from 'class-validator';

import type {
  AuditChanges,
  BrokenReason,
  ChainedEvent,
  ChainLink,
} from 'src/modules/audit/audit-chain';
import type { Actor } from 'src/platform/auth/actor';
import { PageQueryDto } from 'src/platform/http/pagination';

/** What a caller records; the service adds who, when, and the chain. */
export interface AuditEntry {
  /** Past tense, `<resource>.<event>`: `license.suspended`, `auth.login-failed`. */
  readonly action: string;
  readonly targetType: string;
  readonly targetId: string | null;
  /** State before and after the change; only changed fields are stored, secrets redacted. */
  readonly before?: Record<string, unknown> | null;
  readonly after?: Record<string, unknown> | null;
  /** Context that is not state (a reason, a route, a count). Secret-looking keys are redacted too. */
  readonly metadata?: Record<string, unknown>;
}

export const ACTOR_TYPES = [
  'admin',
  'api-key',
  'system',
  'anonymous',
] as const satisfies readonly Actor['type'][];

const BROKEN_REASONS = [
  'sequence gap',
  'prev_hash mismatch',
  'hash mismatch',
  'head mismatch',
] as const satisfies readonly BrokenReason[];

export class AuditFilterDto {
  @ApiPropertyOptional({ enum: ACTOR_TYPES })
  @IsOptional()
  @IsIn(ACTOR_TYPES)
  actorType?: Actor['type'];

  @ApiPropertyOptional({ description: 'Admin or API key id' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  actorId?: string;

  @ApiPropertyOptional({ example: 'license.suspended' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  action?: string;

  @ApiPropertyOptional({ example: 'license' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  targetType?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(200)
  targetId?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Events at or after this time' })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Events before this time' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;
}

export class AuditEventQueryDto extends IntersectionType(AuditFilterDto, PageQueryDto) {}

const OBJECT = { type: 'object', additionalProperties: true } as const;

export class AuditChangesDto implements AuditChanges {
  @ApiProperty({ ...OBJECT, nullable: true, description: 'Null when the target was created' })
  before: Record<string, unknown> | null;

  @ApiProperty({ ...OBJECT, nullable: true, description: 'Null when the target was deleted' })
  after: Record<string, unknown> | null;
}

/**
 * One event, as listed and exported. `hash` is SHA-256 (hex) of `prevHash` followed by the canonical JSON
 * (keys sorted, no whitespace) of all the other members: an export can be verified offline.
 */
export class AuditEventDto implements ChainedEvent {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({
    description:
      'Gapless from 1, in the order events were linked into the chain: an event committed before ' +
      "another's transaction began has the lower sequence",
  })
  sequence: number;
  @ApiProperty({ format: 'date-time' }) occurredAt: string;
  @ApiProperty({ enum: ACTOR_TYPES }) actorType: string;
  @ApiProperty({ nullable: true, type: String }) actorId: string | null;
  @ApiProperty({ nullable: true, type: String }) actorIp: string | null;
  @ApiProperty({ nullable: true, type: String }) userAgent: string | null;
  @ApiProperty({ nullable: true, type: String }) requestId: string | null;
  @ApiProperty({ example: 'license.suspended' }) action: string;
  @ApiProperty({ example: 'license' }) targetType: string;
  @ApiProperty({ nullable: true, type: String }) targetId: string | null;

  @ApiProperty({
    type: AuditChangesDto,
    nullable: true,
    description: 'The fields that changed, secrets shown as "[redacted]"; null when none',
  })
  changes: AuditChangesDto | null;

  @ApiProperty(OBJECT) metadata: Record<string, unknown>;
  @ApiProperty({ description: 'hash of the previous event; 64 zeros for the first' })
  prevHash: string;
  @ApiProperty() hash: string;
}

export class AuditEventPageDto {
  @ApiProperty({ type: [AuditEventDto], description: 'Newest first' }) data: AuditEventDto[];
  @ApiProperty({ nullable: true, type: String }) nextCursor: string | null;
}

export class AuditChainLinkDto implements ChainLink {
  @ApiProperty() sequence: number;
  @ApiProperty() hash: string;
}

export class AuditBrokenLinkDto {
  @ApiProperty({ description: 'The first sequence that does not verify' }) sequence: number;
  @ApiProperty({ enum: BROKEN_REASONS }) reason: BrokenReason;
}

export type AuditVerifyResult =
  | { ok: true; checked: number; pending: number; head: ChainLink | null }
  | {
      ok: false;
      checked: number;
      pending: number;
      brokenAt: { sequence: number; reason: BrokenReason };
    };

export class AuditVerifyResultDto {
  @ApiProperty() ok: boolean;
  @ApiProperty({ description: 'Events that verified (before the break, if any)' }) checked: number;

  @ApiProperty({
    description:
      'Events committed after the check began, not yet linked into the chain (they are linked within a second)',
  })
  pending: number;

  @ApiPropertyOptional({
    type: AuditChainLinkDto,
    nullable: true,
    description: 'When ok: the last event; null for an empty log',
  })
  head?: AuditChainLinkDto | null;

  @ApiPropertyOptional({ type: AuditBrokenLinkDto, description: 'When not ok' })
  brokenAt?: AuditBrokenLinkDto;
}
