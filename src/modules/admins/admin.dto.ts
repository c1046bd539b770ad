import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsEmail,
  IsEnum,
  IsOptional,
  IsString,
  Length,
  Matches,
  MaxLength,
} from 'class-validator';

import { Permission } from 'src/platform/auth/permission';
import { Role } from 'src/platform/auth/roles';

export class LoginDto {
  @ApiProperty({ example: 'owner@example.com' })
  @IsEmail()
  @MaxLength(254)
  email: string;

  @ApiProperty()
  @IsString()
  @MaxLength(256)
  password: string;
}

export class LoginResultDto {
  @ApiProperty({ enum: ['authenticated', 'mfa-required'] })
  status: 'authenticated' | 'mfa-required';

  @ApiPropertyOptional({
    description: 'With status mfa-required: exchange it at /v1/auth/mfa/verify within 5 minutes',
  })
  challengeToken?: string;

  @ApiPropertyOptional() accessToken?: string;
  @ApiPropertyOptional({ description: 'Seconds until the access token expires' })
  expiresIn?: number;
  @ApiPropertyOptional({ description: 'Single use: each refresh returns a new one' })
  refreshToken?: string;
  @ApiPropertyOptional() sessionId?: string;

  @ApiPropertyOptional({
    description: 'MFA is required for all admins and this one must enrol first',
  })
  mfaEnrollmentRequired?: boolean;
}

export class MfaVerifyDto {
  @ApiProperty()
  @IsString()
  @MaxLength(2048)
  challengeToken: string;

  @ApiPropertyOptional({ description: 'A 6-digit TOTP code', example: '123456' })
  @IsOptional()
  @Matches(/^\d{6}$/, { message: 'code must be 6 digits' })
  code?: string;

  @ApiPropertyOptional({ description: 'One of the recovery codes, instead of a TOTP code' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  recoveryCode?: string;
}

export class TotpCodeDto {
  @ApiProperty({ example: '123456' })
  @Matches(/^\d{6}$/, { message: 'code must be 6 digits' })
  code: string;
}

export class RefreshDto {
  @ApiPropertyOptional({
    description: 'Absent with `X-Tessera-Session: cookie`: the refresh cookie is used instead',
  })
  @IsOptional()
  @IsString()
  @MaxLength(256)
  refreshToken?: string;
}

export class MfaEnrollmentDto {
  @ApiProperty({ description: 'Base32 secret for authenticator apps that cannot scan the URI' })
  secret: string;
  @ApiProperty({ example: 'otpauth://totp/Tessera:owner%40example.com?secret=...&issuer=Tessera' })
  otpauthUri: string;
}

export class RecoveryCodesDto {
  @ApiProperty({ type: [String], description: 'Shown this once; each works once' })
  recoveryCodes: string[];
}

export class SessionDto {
  @ApiProperty() id: string;
  @ApiProperty() createdAt: string;
  @ApiProperty() lastUsedAt: string;
  @ApiProperty() expiresAt: string;
  @ApiProperty({ nullable: true, type: String }) mfaVerifiedAt: string | null;
  @ApiProperty({ nullable: true, type: String }) ip: string | null;
  @ApiProperty({ nullable: true, type: String }) userAgent: string | null;
  @ApiProperty({ description: 'The session of the token making this request' }) current: boolean;
}

export class ChangePasswordDto {
  @ApiProperty() @IsString() @MaxLength(256) currentPassword: string;
  @ApiProperty({ minLength: 12 }) @IsString() @MaxLength(256) newPassword: string;
}

export class AdminDto {
  @ApiProperty() id: string;
  @ApiProperty() email: string;
  @ApiProperty() name: string;
  @ApiProperty({ enum: ['active', 'disabled'] }) status: 'active' | 'disabled';
  @ApiProperty({ enum: Role, isArray: true }) roles: Role[];
  @ApiProperty() mfaEnabled: boolean;
  @ApiProperty() createdAt: string;
  @ApiProperty() updatedAt: string;
  @ApiProperty({ description: 'Row version; send as If-Match: W/"<version>" to PATCH' })
  version: number;
}

/** The signed-in admin, with what its roles allow: the console offers only these actions. */
export class MeDto extends AdminDto {
  @ApiProperty({ enum: Permission, isArray: true }) permissions: Permission[];
}

export class AdminListDto {
  @ApiProperty({ type: [AdminDto] }) data: AdminDto[];
  @ApiProperty({ nullable: true, type: String }) nextCursor: string | null;
}

export class CreateAdminDto {
  @ApiProperty() @IsEmail() @MaxLength(254) email: string;
  @ApiProperty() @IsString() @Length(1, 200) name: string;
  @ApiProperty({ minLength: 12 }) @IsString() @MaxLength(256) password: string;

  @ApiProperty({ enum: Role, isArray: true })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(6)
  @IsEnum(Role, { each: true })
  roles: Role[];
}

export class UpdateAdminDto {
  @ApiPropertyOptional() @IsOptional() @IsString() @Length(1, 200) name?: string;
}

export class AssignRolesDto {
  @ApiProperty({ enum: Role, isArray: true })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(6)
  @IsEnum(Role, { each: true })
  roles: Role[];
}

export class MfaPolicyDto {
  @ApiProperty({ description: 'Require every admin to use MFA' }) @IsBoolean() required: boolean;
}
