import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsISO8601,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  Max,
  MaxLength,
  Min,
} from 'class-validator';

import { KEY_SCHEMES, MAX_LICENSE_KEY_LENGTH } from 'src/modules/licenses/license-key';
import type { KeyScheme } from 'src/modules/licenses/license-key';
import type { LicenseStatus } from 'src/modules/licenses/license-validation';
import { IsMetadata, METADATA_DOC } from 'src/platform/http/metadata';
import { PageQueryDto } from 'src/platform/http/pagination';

export const EXPIRATION = [
  'RESTRICT_ACCESS',
  'REVOKE_ACCESS',
  'MAINTAIN_ACCESS',
  'ALLOW_ACCESS',
] as const;
const OVERAGE = ['NO_OVERAGE', 'ALLOW_1_25X', 'ALLOW_1_5X', 'ALLOW_2X', 'ALWAYS_ALLOW'] as const;
export const STATUSES = ['ACTIVE', 'EXPIRING', 'EXPIRED', 'SUSPENDED', 'REVOKED'] as const;
const TEN_YEARS = 10 * 365 * 86_400;

// ---- Policies ----------------------------------------------------------------------------------------

export class CreatePolicyDto {
  @ApiProperty() @IsUUID() productId: string;
  @ApiProperty() @IsString() @Length(1, 200) name: string;

  @ApiPropertyOptional({
    type: Number,
    nullable: true,
    description: 'License lifetime in seconds; absent or null: perpetual',
  })
  @IsOptional()
  @IsInt()
  @Min(60)
  @Max(TEN_YEARS)
  durationSeconds?: number | null;

  @ApiPropertyOptional({ enum: EXPIRATION, default: 'RESTRICT_ACCESS' })
  @IsOptional()
  @IsIn(EXPIRATION)
  expirationStrategy?: (typeof EXPIRATION)[number];

  @ApiPropertyOptional({
    description: 'Floating (any machines up to maxMachines) or node-locked',
    default: false,
  })
  @IsOptional()
  @IsBoolean()
  floating?: boolean;

  @ApiPropertyOptional({
    type: Number,
    nullable: true,
    description: 'Absent: 1 when node-locked, unlimited when floating',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  maxMachines?: number | null;

  @ApiPropertyOptional({ enum: OVERAGE, default: 'NO_OVERAGE' })
  @IsOptional()
  @IsIn(OVERAGE)
  overageStrategy?: (typeof OVERAGE)[number];

  @ApiPropertyOptional({ default: false }) @IsOptional() @IsBoolean() requireHeartbeat?: boolean;

  @ApiPropertyOptional({
    type: Number,
    nullable: true,
    description: 'A machine without a heartbeat for this long is dead (and culled when floating)',
  })
  @IsOptional()
  @IsInt()
  @Min(60)
  @Max(86_400 * 30)
  heartbeatDurationSeconds?: number | null;

  @ApiPropertyOptional({ default: false }) @IsOptional() @IsBoolean() requireCheckIn?: boolean;
  @ApiPropertyOptional({ type: Number, nullable: true })
  @IsOptional()
  @IsInt()
  @Min(60)
  @Max(TEN_YEARS)
  checkInIntervalSeconds?: number | null;

  @ApiPropertyOptional({ type: Number, nullable: true })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(2_000_000_000)
  maxUses?: number | null;

  @ApiPropertyOptional({
    enum: KEY_SCHEMES,
    default: 'RANDOM',
    description:
      'Keys of licenses issued from the policy: RANDOM (35 characters), or SIGNED (a compact JWS embedding ' +
      'the license id, expiry and entitlements at issue, verifiable offline with /v1/keys; docs/licensing.md)',
  })
  @IsOptional()
  @IsIn(KEY_SCHEMES)
  keyScheme?: KeyScheme;

  @ApiPropertyOptional({
    type: [String],
    description: 'Entitlement codes every license of the policy carries',
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  entitlements?: string[];

  @ApiPropertyOptional(METADATA_DOC) @IsOptional() @IsMetadata() metadata?: Record<string, unknown>;
}

export class PolicyDto {
  @ApiProperty() id: string;
  @ApiProperty() productId: string;
  @ApiProperty() name: string;
  @ApiProperty({ nullable: true, type: Number }) durationSeconds: number | null;
  @ApiProperty({ enum: EXPIRATION }) expirationStrategy: string;
  @ApiProperty() floating: boolean;
  @ApiProperty({ nullable: true, type: Number }) maxMachines: number | null;
  @ApiProperty({ enum: OVERAGE }) overageStrategy: string;
  @ApiProperty() requireHeartbeat: boolean;
  @ApiProperty({ nullable: true, type: Number }) heartbeatDurationSeconds: number | null;
  @ApiProperty() requireCheckIn: boolean;
  @ApiProperty({ nullable: true, type: Number }) checkInIntervalSeconds: number | null;
  @ApiProperty({ nullable: true, type: Number }) maxUses: number | null;
  @ApiProperty({ enum: KEY_SCHEMES }) keyScheme: KeyScheme;
  @ApiProperty({ type: [String] }) entitlements: string[];
  @ApiProperty({ type: 'object', additionalProperties: true }) metadata: Record<string, unknown>;
  @ApiProperty() createdAt: string;
  @ApiProperty() version: number;
}

export class PolicyListDto {
  @ApiProperty({ type: [PolicyDto] }) data: PolicyDto[];
  @ApiProperty({ nullable: true, type: String }) nextCursor: string | null;
}

// ---- Licenses ----------------------------------------------------------------------------------------

export class IssueLicenseDto {
  @ApiProperty() @IsUUID() policyId: string;
  @ApiProperty() @IsUUID() customerId: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @Length(1, 200) name?: string;

  @ApiPropertyOptional({ description: 'Overrides the policy duration' })
  @IsOptional()
  @IsISO8601({ strict: true })
  expiresAt?: string;

  @ApiPropertyOptional() @IsOptional() @IsInt() @Min(1) @Max(1_000_000) maxMachines?: number;
  @ApiPropertyOptional() @IsOptional() @IsInt() @Min(0) @Max(2_000_000_000) maxUses?: number;

  @ApiPropertyOptional({ type: [String], description: "Entitlement codes beyond the policy's" })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  entitlements?: string[];

  @ApiPropertyOptional(METADATA_DOC) @IsOptional() @IsMetadata() metadata?: Record<string, unknown>;
}

export class LicenseDto {
  @ApiProperty() id: string;
  @ApiProperty() policyId: string;
  @ApiProperty() customerId: string;
  @ApiProperty({
    description: 'First group of a random key; first 5 characters of the signature of a signed key',
  })
  keyPrefix: string;
  @ApiProperty({ nullable: true, type: String }) name: string | null;
  @ApiProperty({ enum: STATUSES }) status: LicenseStatus;
  @ApiProperty({ nullable: true, type: String }) expiresAt: string | null;
  @ApiProperty({ nullable: true, type: Number }) maxMachines: number | null;
  @ApiProperty({ nullable: true, type: Number }) maxUses: number | null;
  @ApiProperty() uses: number;
  @ApiProperty({ type: [String], description: 'Policy and license entitlements' })
  entitlements: string[];
  @ApiProperty({ nullable: true, type: String }) lastCheckInAt: string | null;
  @ApiProperty({ nullable: true, type: String }) lastValidatedAt: string | null;
  @ApiProperty({ type: 'object', additionalProperties: true }) metadata: Record<string, unknown>;
  @ApiProperty() createdAt: string;
  @ApiProperty() version: number;
}

export class IssuedLicenseDto extends LicenseDto {
  @ApiProperty({ description: 'The license key, shown this once' }) key: string;
}

export class LicenseListDto {
  @ApiProperty({ type: [LicenseDto] }) data: LicenseDto[];
  @ApiProperty({ nullable: true, type: String }) nextCursor: string | null;
}

export class LicenseQueryDto extends PageQueryDto {
  @ApiPropertyOptional() @IsOptional() @IsUUID() customerId?: string;
  @ApiPropertyOptional() @IsOptional() @IsUUID() policyId?: string;
  @ApiPropertyOptional({ enum: ['ACTIVE', 'SUSPENDED', 'REVOKED'] })
  @IsOptional()
  @IsIn(['ACTIVE', 'SUSPENDED', 'REVOKED'])
  status?: 'ACTIVE' | 'SUSPENDED' | 'REVOKED';
}

export class UpdateLicenseDto {
  @ApiPropertyOptional({ nullable: true, type: String, description: 'null: no name' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  name?: string | null;
  @ApiPropertyOptional({ nullable: true, type: Number })
  @IsOptional()
  @IsInt()
  @Min(1)
  maxMachines?: number | null;
  @ApiPropertyOptional({ nullable: true, type: Number }) @IsOptional() @IsInt() @Min(0) maxUses?:
    number | null;
  @ApiPropertyOptional(METADATA_DOC) @IsOptional() @IsMetadata() metadata?: Record<string, unknown>;
}

export class ChangePolicyDto {
  @ApiProperty() @IsUUID() policyId: string;
}

export class EntitlementCodesDto {
  @ApiProperty({ type: [String] })
  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  entitlements: string[];
}

export class UsageDto {
  @ApiPropertyOptional({ default: 1 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  amount?: number;
}

// ---- Machines ----------------------------------------------------------------------------------------

export class ActivateMachineDto {
  @ApiProperty() @IsUUID() licenseId: string;
  @ApiProperty({ description: 'A stable identifier of the machine computed by the app' })
  @IsString()
  @Length(1, 255)
  fingerprint: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(200) name?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(100) platform?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(255) hostname?: string;
  @ApiPropertyOptional() @IsOptional() @IsInt() @Min(1) @Max(100_000) cores?: number;
  @ApiPropertyOptional({
    description: "The app's version, for the machines report",
    example: '2.4.1',
  })
  @IsOptional()
  @IsString()
  @MaxLength(50)
  version?: string;
}

export class MachineDto {
  @ApiProperty() id: string;
  @ApiProperty() licenseId: string;
  @ApiProperty() fingerprint: string;
  @ApiProperty({ nullable: true, type: String }) name: string | null;
  @ApiProperty({ nullable: true, type: String }) platform: string | null;
  @ApiProperty({ nullable: true, type: String }) hostname: string | null;
  @ApiProperty({ nullable: true, type: Number }) cores: number | null;
  @ApiProperty({ nullable: true, type: String }) version: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'ISO 3166-1 country of the address that activated, when GEOIP_DB_FILE is set',
  })
  country: string | null;
  @ApiProperty({ nullable: true, type: String }) lastHeartbeatAt: string | null;
  @ApiProperty() createdAt: string;
}

export class MachineListDto {
  @ApiProperty({ type: [MachineDto] }) data: MachineDto[];
  @ApiProperty({ nullable: true, type: String }) nextCursor: string | null;
}

export class MachineQueryDto extends PageQueryDto {
  @ApiProperty() @IsUUID() licenseId: string;
}

// ---- License files -----------------------------------------------------------------------------------

export class CheckOutDto {
  @ApiPropertyOptional({
    description:
      'Lifetime of the file in seconds: at least 3600, at most LICENSE_FILE_MAX_TTL_SECONDS and, when the ' +
      'policy requires check-ins, its check-in interval (422 otherwise). Default: LICENSE_FILE_TTL_SECONDS, ' +
      'shortened to the check-in interval',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(2_000_000_000)
  ttl?: number;

  @ApiPropertyOptional({
    default: false,
    description:
      'Encrypt the license with a key derived from the license key (and, for a machine file, the ' +
      'fingerprint), so only its holder can read it (docs/license-file.md)',
  })
  @IsOptional()
  @IsBoolean()
  encrypt?: boolean;

  @ApiPropertyOptional({
    description:
      'The license key, required with `encrypt` (only its hash is stored); 422 LICENSE_KEY_MISMATCH if it is not the license key',
  })
  @IsOptional()
  @IsString()
  @Length(1, MAX_LICENSE_KEY_LENGTH)
  key?: string;
}

export class KeyCheckOutDto {
  @ApiProperty({ description: 'The license key: the credential of this call' })
  @IsString()
  @Length(1, MAX_LICENSE_KEY_LENGTH)
  key: string;

  @ApiPropertyOptional({
    description: "The machine's fingerprint: check out that activated machine's file instead",
  })
  @IsOptional()
  @IsString()
  @Length(1, 255)
  fingerprint?: string;

  @ApiPropertyOptional({ description: 'As for POST /v1/licenses/:id/actions/check-out' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(2_000_000_000)
  ttl?: number;

  @ApiPropertyOptional({ default: false, description: 'Encrypt with the key (and fingerprint)' })
  @IsOptional()
  @IsBoolean()
  encrypt?: boolean;
}

export class LicenseFileDto {
  @ApiProperty({
    description:
      'The license file: a signed JWT between `-----BEGIN TESSERA LICENSE FILE-----` and `-----END …` lines',
  })
  certificate: string;
  @ApiProperty({ description: 'The signing key, in the JWKS at /v1/keys' }) kid: string;
  @ApiProperty({ enum: ['EdDSA', 'ES256'] }) alg: string;
  @ApiProperty() issuedAt: string;
  @ApiProperty() expiresAt: string;
  @ApiProperty({ description: 'Seconds from issuedAt to expiresAt' }) ttl: number;
  @ApiProperty() encrypted: boolean;
}
