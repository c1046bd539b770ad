import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';

import type { SigningAlgorithm } from 'src/modules/signing/signer';
import { KEY_PURPOSES, KEY_STATES } from 'src/modules/signing/signing-key.entity';
import type { KeyPurpose, KeyState } from 'src/modules/signing/signing-key.entity';

const ALGORITHMS = ['EdDSA', 'ES256'] as const;

export class GenerateSigningKeyDto {
  @ApiProperty({ enum: KEY_PURPOSES, description: 'What the key signs' })
  @IsIn(KEY_PURPOSES)
  purpose: KeyPurpose;

  @ApiPropertyOptional({
    enum: ALGORITHMS,
    description: 'Defaults to SIGNING_ALGORITHM; webhook keys are always EdDSA (Ed25519)',
  })
  @IsOptional()
  @IsIn(ALGORITHMS)
  algorithm?: SigningAlgorithm;
}

export class JwkDto {
  @ApiProperty() kid: string;
  @ApiProperty({ enum: ['OKP', 'EC'] }) kty: string;
  @ApiProperty({ enum: ['Ed25519', 'P-256'] }) crv: string;
  @ApiProperty() x: string;
  @ApiPropertyOptional({ description: 'P-256 only' }) y?: string;
  @ApiProperty({ enum: ALGORITHMS }) alg: SigningAlgorithm;
  @ApiProperty({ enum: ['sig'] }) use: 'sig';
}

export class JwksDto {
  @ApiProperty({ type: [JwkDto] }) keys: JwkDto[];
}

export class SigningKeyDto {
  @ApiProperty() kid: string;
  @ApiProperty({ enum: KEY_PURPOSES }) purpose: KeyPurpose;
  @ApiProperty({ enum: ALGORITHMS }) algorithm: SigningAlgorithm;
  @ApiProperty({ enum: ['software', 'pkcs11'] }) backend: 'software' | 'pkcs11';
  @ApiProperty({ enum: KEY_STATES }) state: KeyState;
  @ApiProperty({ type: JwkDto }) publicJwk: JwkDto;
  @ApiProperty() createdAt: string;
  @ApiProperty({ nullable: true, type: String }) activatedAt: string | null;
  @ApiProperty({ nullable: true, type: String }) retiringAt: string | null;
  @ApiProperty({ nullable: true, type: String }) retiredAt: string | null;
  @ApiProperty({ nullable: true, type: String }) revokedAt: string | null;
}

export class SigningKeyListDto {
  @ApiProperty({ type: [SigningKeyDto] }) data: SigningKeyDto[];
}
