import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsEmail,
  IsOptional,
  IsString,
  Length,
  Matches,
  MaxLength,
  ValidateBy,
  ValidateIf,
} from 'class-validator';

import { PageQueryDto } from 'src/platform/http/pagination';

const METADATA_MAX_KEYS = 50;
const METADATA_MAX_BYTES = 16_384;
const NOT_BLANK = /\S/;
// The billing system's id as it gives it: no surrounding whitespace that would make two ids look alike.
const EXTERNAL_ID = /^\S(?:.*\S)?$/s;

/** A JSON object of at most 50 keys and 16 KB serialized: room for integrators' references, not documents. */
function IsMetadata(): PropertyDecorator {
  return ValidateBy({
    name: 'isMetadata',
    validator: {
      validate: (value: unknown) =>
        typeof value === 'object' &&
        value !== null &&
        !Array.isArray(value) &&
        Object.keys(value).length <= METADATA_MAX_KEYS &&
        Buffer.byteLength(JSON.stringify(value)) <= METADATA_MAX_BYTES,
      defaultMessage: () =>
        `metadata must be a JSON object of at most ${METADATA_MAX_KEYS} keys and ${METADATA_MAX_BYTES} bytes`,
    },
  });
}

const METADATA_DOC = {
  type: 'object',
  additionalProperties: true,
  description: `Free-form JSON object, at most ${METADATA_MAX_KEYS} keys and ${METADATA_MAX_BYTES} bytes`,
} as const;

export class CustomerDto {
  @ApiProperty() id: string;
  @ApiProperty({ description: '"Erased customer" once erased' }) name: string;
  @ApiProperty({ nullable: true, type: String, description: 'Null only once erased' })
  email: string | null;
  @ApiProperty({ nullable: true, type: String }) externalId: string | null;
  @ApiProperty(METADATA_DOC) metadata: Record<string, unknown>;
  @ApiProperty({ nullable: true, type: String }) erasedAt: string | null;
  @ApiProperty() createdAt: string;
  @ApiProperty() updatedAt: string;
  @ApiProperty({ description: 'Row version; send as If-Match: W/"<version>" to PATCH' })
  version: number;
}

export class CustomerListDto {
  @ApiProperty({ type: [CustomerDto] }) data: CustomerDto[];
  @ApiProperty({ nullable: true, type: String }) nextCursor: string | null;
}

export class CreateCustomerDto {
  @ApiProperty({ example: 'Acme GmbH' })
  @IsString()
  @Length(1, 200)
  @Matches(NOT_BLANK, { message: 'name must not be blank' })
  name: string;

  @ApiProperty({ example: 'licensing@acme.example' })
  @IsEmail()
  @MaxLength(254)
  email: string;

  @ApiPropertyOptional({
    example: 'cus_Q3Jx9vT2',
    description: "The billing system's id for this customer; unique across customers",
  })
  @IsOptional()
  @IsString()
  @Length(1, 255)
  @Matches(EXTERNAL_ID, { message: 'externalId must not start or end with whitespace' })
  externalId?: string | null;

  @ApiPropertyOptional(METADATA_DOC)
  @IsOptional()
  @IsMetadata()
  metadata?: Record<string, unknown>;
}

/** Absent fields stay as they are; `externalId: null` removes the billing id; metadata is replaced whole. */
export class UpdateCustomerDto {
  @ApiPropertyOptional()
  @ValidateIf((_, value) => value !== undefined)
  @IsString()
  @Length(1, 200)
  @Matches(NOT_BLANK, { message: 'name must not be blank' })
  name?: string;

  @ApiPropertyOptional()
  @ValidateIf((_, value) => value !== undefined)
  @IsEmail()
  @MaxLength(254)
  email?: string;

  @ApiPropertyOptional({ nullable: true, type: String, description: 'null removes it' })
  @IsOptional()
  @IsString()
  @Length(1, 255)
  @Matches(EXTERNAL_ID, { message: 'externalId must not start or end with whitespace' })
  externalId?: string | null;

  @ApiPropertyOptional(METADATA_DOC)
  @ValidateIf((_, value) => value !== undefined)
  @IsMetadata()
  metadata?: Record<string, unknown>;
}

export class CustomerListQueryDto extends PageQueryDto {
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
