import { ApiProperty } from '@nestjs/swagger';

import { EXPIRATION, STATUSES } from 'src/modules/licenses/license.dto';
import { VALIDATION_CODES } from 'src/modules/licenses/license-validation';
import type { LicenseStatus } from 'src/modules/licenses/license-validation';

// The validation route's answer as the OpenAPI document describes it (the route itself serialises it
// with the response schema in validation.schema.ts). Split from license.dto.ts to keep both short.

export class ValidatedScopeDto {
  @ApiProperty({ nullable: true, type: String }) fingerprint: string | null;
  @ApiProperty({ nullable: true, type: String }) product: string | null;
  @ApiProperty({ type: [String] }) entitlements: string[];
}

export class ValidatedPolicyDto {
  @ApiProperty() id: string;
  @ApiProperty() name: string;
  @ApiProperty() productId: string;
  @ApiProperty({ description: 'The product code' }) product: string;
  @ApiProperty() floating: boolean;
  @ApiProperty({ nullable: true, type: Number }) maxMachines: number | null;
  @ApiProperty({ enum: EXPIRATION }) expirationStrategy: string;
  @ApiProperty() requireHeartbeat: boolean;
  @ApiProperty() requireCheckIn: boolean;
}

export class ValidatedLicenseDto {
  @ApiProperty() id: string;
  @ApiProperty({ enum: STATUSES }) status: LicenseStatus;
  @ApiProperty({ nullable: true, type: String }) expiry: string | null;
  @ApiProperty({ type: [String] }) entitlements: string[];
  @ApiProperty({ type: ValidatedPolicyDto, description: 'Policy summary' })
  policy: ValidatedPolicyDto;
}

export class ValidationResultDto {
  @ApiProperty() valid: boolean;
  @ApiProperty({ enum: VALIDATION_CODES, description: 'First failing check, in documented order' })
  code: string;
  @ApiProperty() detail: string;
  @ApiProperty({ type: ValidatedLicenseDto, nullable: true }) license: ValidatedLicenseDto | null;
  @ApiProperty({ type: ValidatedScopeDto, description: 'The scope that was checked, as sent' })
  scope: ValidatedScopeDto;
  @ApiProperty({
    description:
      'base64url SHA-256 of the key that was checked (canonical form): compare it with your own key',
  })
  keySha256: string;
  @ApiProperty({ nullable: true, type: String }) nonce: string | null;
  @ApiProperty() validatedAt: string;
}
