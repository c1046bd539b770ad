import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsISO8601, IsOptional, IsString, IsUUID, Length, MaxLength } from 'class-validator';

import type { ExportFormat } from 'src/modules/reports/export-format';

const FORMATS = ['csv', 'ndjson'] as const satisfies readonly ExportFormat[];
const LICENSE_STATUSES = ['ACTIVE', 'SUSPENDED', 'REVOKED'] as const;
const ACTOR_TYPES = ['admin', 'api-key', 'system', 'anonymous'] as const;

export class ExportFormatDto {
  @ApiPropertyOptional({ enum: FORMATS, description: 'Wins over Accept; default: CSV' })
  @IsOptional()
  @IsIn(FORMATS)
  format?: ExportFormat;
}

/** The filters of GET /v1/licenses. */
export class LicenseExportQueryDto extends ExportFormatDto {
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() customerId?: string;
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() policyId?: string;
  @ApiPropertyOptional({ enum: LICENSE_STATUSES })
  @IsOptional()
  @IsIn(LICENSE_STATUSES)
  status?: (typeof LICENSE_STATUSES)[number];
}

/** The filter of GET /v1/machines, optional here: without it, every machine. */
export class MachineExportQueryDto extends ExportFormatDto {
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() licenseId?: string;
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() customerId?: string;
}

/** The filters of GET /v1/customers. */
export class CustomerExportQueryDto extends ExportFormatDto {
  @ApiPropertyOptional({ description: 'Exact email, case-insensitive' })
  @IsOptional()
  @IsString()
  @MaxLength(254)
  email?: string;

  @ApiPropertyOptional({ description: "Exact billing system's id" })
  @IsOptional()
  @IsString()
  @MaxLength(255)
  externalId?: string;

  @ApiPropertyOptional({ description: 'Prefix of the name or the email, case-insensitive' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  q?: string;
}

/** The filters of GET /v1/audit/events. */
export class AuditExportQueryDto extends ExportFormatDto {
  @ApiPropertyOptional({ enum: ACTOR_TYPES })
  @IsOptional()
  @IsIn(ACTOR_TYPES)
  actorType?: (typeof ACTOR_TYPES)[number];

  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(200) actorId?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(200) action?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(200) targetType?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(200) targetId?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Events at or after this time' })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Events before this time' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;
}

/** Raw validations, kept REPORTS_RAW_RETENTION_DAYS. */
export class ValidationExportQueryDto extends ExportFormatDto {
  @ApiPropertyOptional({ format: 'date-time', description: 'Validations at or after this time' })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Validations before this time' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;

  @ApiPropertyOptional({ example: 'EXPIRED' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  code?: string;
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() licenseId?: string;
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() policyId?: string;
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() productId?: string;
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() customerId?: string;
}
