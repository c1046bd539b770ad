import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsEnum,
  IsISO8601,
  IsOptional,
  IsString,
  Length,
  Matches,
} from 'class-validator';

import { Permission } from 'src/platform/auth/permission';

// An IPv4 or IPv6 address with an optional prefix length; the service parses it for real.
const CIDR = /^[0-9a-fA-F:.]+(\/\d{1,3})?$/;

export class CreateApiKeyDto {
  @ApiProperty({ example: 'Billing back office' })
  @IsString()
  @Length(1, 100)
  name: string;

  @ApiProperty({
    enum: Permission,
    isArray: true,
    example: [Permission.LicenseRead, Permission.LicenseValidate],
  })
  @IsArray()
  @ArrayMinSize(1)
  @IsEnum(Permission, { each: true })
  permissions: Permission[];

  @ApiProperty({ description: 'Mandatory; at most API_KEY_MAX_DAYS (365 by default) from now.' })
  @IsISO8601({ strict: true })
  expiresAt: string;

  @ApiPropertyOptional({
    type: [String],
    example: ['203.0.113.0/24'],
    description: 'Empty or absent: any address',
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(50)
  @Matches(CIDR, { each: true, message: 'each allowedCidrs entry must be an IP address or CIDR' })
  allowedCidrs?: string[];
}

export class ApiKeyDto {
  @ApiProperty() id: string;
  @ApiProperty() name: string;
  @ApiProperty({ description: 'The first characters of the key' }) prefix: string;
  @ApiProperty({ enum: Permission, isArray: true }) permissions: Permission[];
  @ApiProperty({ type: [String] }) allowedCidrs: string[];
  @ApiProperty() expiresAt: string;
  @ApiProperty({ nullable: true, type: String }) lastUsedAt: string | null;
  @ApiProperty({ nullable: true, type: String }) revokedAt: string | null;
  @ApiProperty() createdAt: string;
  @ApiProperty({ nullable: true, type: String }) createdById: string | null;
}

export class CreatedApiKeyDto extends ApiKeyDto {
  @ApiProperty({ description: 'The secret, shown this once: Authorization: Bearer <key>' })
  key: string;
}

export class ApiKeyListDto {
  @ApiProperty({ type: [ApiKeyDto] }) data: ApiKeyDto[];
  @ApiProperty({ nullable: true, type: String }) nextCursor: string | null;
}
