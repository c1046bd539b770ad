import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsISO8601,
  IsOptional,
  IsString,
  IsUUID,
  Max,
  MaxLength,
  Min,
} from 'class-validator';

export const INTERVALS = ['hour', 'day', 'week', 'month'] as const;
export const MACHINE_DIMENSIONS = ['platform', 'version', 'country'] as const;

/** Every report takes at most one of these: rollups are kept per product, per policy and per customer. */
export class ReportScopeQueryDto {
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() productId?: string;
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() policyId?: string;
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() customerId?: string;
}

export class TimeSeriesQueryDto extends ReportScopeQueryDto {
  @ApiPropertyOptional({ enum: INTERVALS, default: 'day' })
  @IsOptional()
  @IsIn(INTERVALS)
  interval?: (typeof INTERVALS)[number];

  @ApiPropertyOptional({
    format: 'date-time',
    description:
      'Start of the range, rounded down to its interval in tz (default: 30 days before to)',
  })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @ApiPropertyOptional({
    format: 'date-time',
    description:
      'End of the range: the last bucket is the one holding the instant before it (default: now)',
  })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;

  @ApiPropertyOptional({
    default: 'UTC',
    example: 'Europe/Berlin',
    description:
      'IANA time zone whose hours, days, weeks (from Monday) and months the buckets follow',
  })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  tz?: string;
}

export class ReportScopeDto {
  @ApiProperty({ enum: ['all', 'product', 'policy', 'customer'] }) type: string;
  @ApiProperty({ nullable: true, type: String, format: 'uuid' }) id: string | null;
}

export class TimeSeriesBucketDto {
  @ApiProperty({ format: 'date-time' }) start: string;
  @ApiProperty({ format: 'date-time', description: 'Exclusive' }) end: string;
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'integer' },
    description: 'Every series of the report, zero included',
  })
  counts: Record<string, number>;
  @ApiProperty() total: number;
}

export class TimeSeriesDto {
  @ApiProperty({ example: 'validations' }) report: string;
  @ApiProperty({ enum: INTERVALS }) interval: string;
  @ApiProperty({ example: 'UTC' }) tz: string;
  @ApiProperty({ format: 'date-time', description: 'Start of the first bucket' }) from: string;
  @ApiProperty({ format: 'date-time', description: 'End of the last bucket' }) to: string;
  @ApiProperty({ type: ReportScopeDto }) scope: ReportScopeDto;
  @ApiProperty({ type: [String], description: 'The series every bucket counts' }) series: string[];
  @ApiProperty({ type: [TimeSeriesBucketDto] }) buckets: TimeSeriesBucketDto[];
  @ApiProperty({ type: 'object', additionalProperties: { type: 'integer' } })
  totals: Record<string, number>;
}

export class SeatsPolicyDto {
  @ApiProperty({ format: 'uuid' }) policyId: string;
  @ApiProperty() policyName: string;
  @ApiProperty({ description: 'Live licenses: not revoked, not expired' }) licenses: number;
  @ApiProperty({ description: 'Machines activated on them' }) seatsUsed: number;
  @ApiProperty({ description: 'Their machine limits added up (licenses without one excepted)' })
  seatsAllowed: number;
  @ApiProperty({ description: 'Live licenses with no machine limit' }) unlimitedLicenses: number;
}

export class SeatsProductDto {
  @ApiProperty({ format: 'uuid' }) productId: string;
  @ApiProperty() productCode: string;
  @ApiProperty() licenses: number;
  @ApiProperty() seatsUsed: number;
  @ApiProperty() seatsAllowed: number;
  @ApiProperty() unlimitedLicenses: number;
  @ApiProperty({ type: [SeatsPolicyDto] }) policies: SeatsPolicyDto[];
}

export class SeatsReportDto {
  @ApiProperty({ type: ReportScopeDto }) scope: ReportScopeDto;
  @ApiProperty({ format: 'date-time' }) at: string;
  @ApiProperty({ type: [SeatsProductDto] }) products: SeatsProductDto[];
}

/** A snapshot listing licenses: at most `limit` of them. */
export class ReportListQueryDto extends ReportScopeQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 1000, default: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;
}

export class NearLimitsQueryDto extends ReportListQueryDto {
  @ApiPropertyOptional({
    minimum: 1,
    maximum: 100,
    default: 80,
    description: 'Percent of a limit in use from which a license is listed',
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  threshold?: number;
}

export class NearLimitDto {
  @ApiProperty({ format: 'uuid' }) licenseId: string;
  @ApiProperty({ nullable: true, type: String }) name: string | null;
  @ApiProperty({ format: 'uuid' }) policyId: string;
  @ApiProperty({ format: 'uuid' }) productId: string;
  @ApiProperty({ format: 'uuid' }) customerId: string;
  @ApiProperty() machines: number;
  @ApiProperty({ nullable: true, type: Number }) maxMachines: number | null;
  @ApiProperty() uses: number;
  @ApiProperty({ nullable: true, type: Number }) maxUses: number | null;
  @ApiProperty({ description: 'The fuller of the two limits, 0 to 1 (or more, on overage)' })
  usedRatio: number;
}

export class NearLimitsReportDto {
  @ApiProperty({ type: ReportScopeDto }) scope: ReportScopeDto;
  @ApiProperty() threshold: number;
  @ApiProperty({ type: [NearLimitDto] }) licenses: NearLimitDto[];
}

export class ExpiringQueryDto extends ReportListQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 3650, default: 30 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(3650)
  days?: number;
}

export class ExpiringLicenseDto {
  @ApiProperty({ format: 'uuid' }) licenseId: string;
  @ApiProperty({ nullable: true, type: String }) name: string | null;
  @ApiProperty() status: string;
  @ApiProperty({ format: 'uuid' }) policyId: string;
  @ApiProperty({ format: 'uuid' }) productId: string;
  @ApiProperty({ format: 'uuid' }) customerId: string;
  @ApiProperty({ format: 'date-time' }) expiresAt: string;
}

export class ExpiringReportDto {
  @ApiProperty({ type: ReportScopeDto }) scope: ReportScopeDto;
  @ApiProperty({ format: 'date-time' }) from: string;
  @ApiProperty({ format: 'date-time' }) to: string;
  @ApiProperty({
    description: 'All licenses expiring in the window; `licenses` holds the first `limit`',
  })
  total: number;
  @ApiProperty({ type: [ExpiringLicenseDto] }) licenses: ExpiringLicenseDto[];
}

export class MachinesQueryDto extends ReportScopeQueryDto {
  @ApiPropertyOptional({
    enum: MACHINE_DIMENSIONS,
    default: 'platform',
    description:
      'country only when a GeoIP database is configured (GET /v1/reports lists what is offered)',
  })
  @IsOptional()
  @IsIn(MACHINE_DIMENSIONS)
  by?: (typeof MACHINE_DIMENSIONS)[number];
}

export class MachineGroupDto {
  @ApiProperty({ nullable: true, type: String, description: 'Null: not reported, or not known' })
  value: string | null;
  @ApiProperty() machines: number;
}

export class MachinesReportDto {
  @ApiProperty({ type: ReportScopeDto }) scope: ReportScopeDto;
  @ApiProperty({ enum: MACHINE_DIMENSIONS }) by: string;
  @ApiProperty() total: number;
  @ApiProperty({ type: [MachineGroupDto] }) groups: MachineGroupDto[];
}

export class ReportCatalogEntryDto {
  @ApiProperty({ example: '/v1/reports/validations' }) path: string;
  @ApiProperty({ enum: ['time-series', 'snapshot'] }) kind: string;
  @ApiProperty({ type: [String], description: 'Series, or the machine dimensions offered' })
  dimensions: string[];
}

export class ReportCatalogDto {
  @ApiProperty({ type: [ReportCatalogEntryDto] }) reports: ReportCatalogEntryDto[];
  @ApiProperty({ description: 'Days raw validations are kept' }) rawRetentionDays: number;
  @ApiProperty({ description: 'Days rollups (every time series) are kept' })
  rollupRetentionDays: number;
}
