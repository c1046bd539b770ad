import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { ApiPropertyOptions } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsIn,
  IsISO8601,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  ValidateIf,
} from 'class-validator';

import { IsMetadata, METADATA_DOC } from 'src/platform/http/metadata';
import { PageQueryDto } from 'src/platform/http/pagination';

/** Payload shapes an endpoint can ask for (Keygen's per-endpoint API version). Only one exists so far. */
export const PAYLOAD_VERSIONS = ['1'] as const;
export type PayloadVersion = (typeof PAYLOAD_VERSIONS)[number];

// `*`, a noun's wildcard (`license.*`) or an exact type (`license.suspended`).
const EVENT_TYPE = /^(\*|[a-z][a-z0-9-]*\.(\*|[a-z][a-z0-9-]*))$/;
const EVENT_TYPES_DOC: ApiPropertyOptions = {
  type: [String],
  example: ['license.*', 'customer.erased'],
  description:
    'Event types to receive: exact (`license.suspended`), a noun with `.*` (`license.*`), or `*` for all. Default `["*"]`.',
};
const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;
const asBoolean = ({ value }: { value: unknown }) =>
  value === 'true' ? true : value === 'false' ? false : value;

export class WebhookEndpointDto {
  @ApiProperty() id: string;
  @ApiProperty() url: string;
  @ApiProperty({ nullable: true, type: String }) description: string | null;
  @ApiProperty({ type: [String] }) eventTypes: string[];
  @ApiProperty() enabled: boolean;
  @ApiProperty({ nullable: true, type: String }) disabledAt: string | null;
  @ApiProperty({
    nullable: true,
    enum: ['manual', 'gone', 'failing'],
    description:
      'manual (PATCH), gone (the receiver answered 410) or failing (no success for days)',
  })
  disabledReason: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'First failed attempt since the last success',
  })
  failingSince: string | null;
  @ApiProperty({ enum: PAYLOAD_VERSIONS }) payloadVersion: string;
  @ApiProperty({ description: 'Also sign with Ed25519 (`v1a`), verifiable with GET /v1/keys' })
  signEd25519: boolean;
  @ApiProperty({ nullable: true, type: String }) secretRotatedAt: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'Until then the previous secret signs too',
  })
  previousSecretExpiresAt: string | null;
  @ApiProperty() createdAt: string;
  @ApiProperty() updatedAt: string;
  @ApiProperty({ description: 'Row version; send as If-Match: W/"<version>" to PATCH' })
  version: number;
}

export class WebhookEndpointWithSecretDto extends WebhookEndpointDto {
  @ApiProperty({
    example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    description: 'The signing secret, shown this once',
  })
  secret: string;
}

export class WebhookEndpointListDto {
  @ApiProperty({ type: [WebhookEndpointDto] }) data: WebhookEndpointDto[];
  @ApiProperty({ nullable: true, type: String }) nextCursor: string | null;
}

export class CreateWebhookEndpointDto {
  @ApiProperty({ example: 'https://billing.example.com/hooks/tessera' })
  @IsString()
  @MaxLength(2048)
  url: string;

  @ApiPropertyOptional({ nullable: true, type: String, example: 'Billing sync' })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  description?: string | null;

  @ApiPropertyOptional(EVENT_TYPES_DOC)
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @ArrayUnique()
  @IsString({ each: true })
  @Matches(EVENT_TYPE, { each: true, message: 'each event type must be *, noun.* or noun.verb' })
  eventTypes?: string[];

  @ApiPropertyOptional({ default: true })
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;

  @ApiPropertyOptional({ enum: PAYLOAD_VERSIONS, default: '1' })
  @IsOptional()
  @IsIn(PAYLOAD_VERSIONS)
  payloadVersion?: PayloadVersion;

  @ApiPropertyOptional({ default: false, description: 'Add an Ed25519 signature (`v1a`)' })
  @IsOptional()
  @IsBoolean()
  signEd25519?: boolean;

  @ApiPropertyOptional({
    description: 'Bring your own secret (`whsec_` + base64 of 24-64 bytes); generated if absent',
  })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  secret?: string;
}

/** Absent fields stay as they are; `description: null` removes it. */
export class UpdateWebhookEndpointDto {
  @ApiPropertyOptional()
  @ValidateIf((_, value) => value !== undefined)
  @IsString()
  @MaxLength(2048)
  url?: string;

  @ApiPropertyOptional({ nullable: true, type: String })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  description?: string | null;

  @ApiPropertyOptional(EVENT_TYPES_DOC)
  @ValidateIf((_, value) => value !== undefined)
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @ArrayUnique()
  @IsString({ each: true })
  @Matches(EVENT_TYPE, { each: true, message: 'each event type must be *, noun.* or noun.verb' })
  eventTypes?: string[];

  @ApiPropertyOptional({
    description: 'true re-enables a disabled endpoint and clears its failures',
  })
  @ValidateIf((_, value) => value !== undefined)
  @IsBoolean()
  enabled?: boolean;

  @ApiPropertyOptional({ enum: PAYLOAD_VERSIONS })
  @ValidateIf((_, value) => value !== undefined)
  @IsIn(PAYLOAD_VERSIONS)
  payloadVersion?: PayloadVersion;

  @ApiPropertyOptional()
  @ValidateIf((_, value) => value !== undefined)
  @IsBoolean()
  signEd25519?: boolean;
}

export class RotateSecretDto {
  @ApiPropertyOptional({ description: 'Bring your own new secret; generated if absent' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  secret?: string;
}

export class WebhookEndpointListQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ type: Boolean })
  @IsOptional()
  @Transform(asBoolean)
  @IsBoolean()
  enabled?: boolean;
}

export class WebhookDeliveryDto {
  @ApiProperty() id: string;
  @ApiProperty() endpointId: string;
  @ApiProperty() eventId: string;
  @ApiProperty() eventType: string;
  @ApiProperty({ description: 'The webhook-id header: the same on every attempt' })
  webhookId: string;
  @ApiProperty({ enum: DELIVERY_STATUSES }) status: string;
  @ApiProperty({ description: 'Attempts in the current retry schedule' }) attempts: number;
  @ApiProperty({ nullable: true, type: String }) nextAttemptAt: string | null;
  @ApiProperty({ nullable: true, type: String }) lastAttemptAt: string | null;
  @ApiProperty({ nullable: true, type: Number }) lastStatusCode: number | null;
  @ApiProperty({ nullable: true, type: String }) lastError: string | null;
  @ApiProperty({ nullable: true, type: String }) deliveredAt: string | null;
  @ApiProperty() createdAt: string;
}

export class WebhookAttemptDto {
  @ApiProperty() attempt: number;
  @ApiProperty() startedAt: string;
  @ApiProperty() durationMs: number;
  @ApiProperty({ nullable: true, type: Number }) statusCode: number | null;
  @ApiProperty({ nullable: true, type: String, description: 'First 2 KB of the response body' })
  responseBody: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    description:
      'invalid-url, dns, forbidden-address, connect-timeout, timeout, connection, tls, redirect, http-status, aborted, signing',
  })
  errorClass: string | null;
  @ApiProperty({ nullable: true, type: String }) error: string | null;
  @ApiProperty() succeeded: boolean;
}

export class WebhookDeliveryDetailDto extends WebhookDeliveryDto {
  @ApiProperty({ type: [WebhookAttemptDto], description: 'Every attempt, oldest first' })
  attemptLog: WebhookAttemptDto[];
}

export class WebhookDeliveryListDto {
  @ApiProperty({ type: [WebhookDeliveryDto] }) data: WebhookDeliveryDto[];
  @ApiProperty({ nullable: true, type: String }) nextCursor: string | null;
}

export class WebhookDeliveryListQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: DELIVERY_STATUSES })
  @IsOptional()
  @IsIn(DELIVERY_STATUSES)
  status?: (typeof DELIVERY_STATUSES)[number];

  @ApiPropertyOptional({ example: 'license.suspended' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  eventType?: string;
}

export class RecoverDto {
  @ApiProperty({
    example: '2026-11-20T00:00:00Z',
    description: 'Resend what failed, and what was missed, for events since this time',
  })
  @IsISO8601({ strict: true })
  since: string;
}

export class RecoverResultDto {
  @ApiProperty({ description: 'Failed deliveries due again' }) requeued: number;
  @ApiProperty({ description: 'Events the endpoint never got (it was disabled), now queued' })
  missed: number;
}

export class SendTestDto {
  @ApiPropertyOptional({ ...METADATA_DOC, description: 'The `data` of the test event' })
  @IsOptional()
  @IsMetadata()
  data?: Record<string, unknown>;
}
