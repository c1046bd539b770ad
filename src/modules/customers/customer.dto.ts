import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsEmail,
  IsOptional,
  IsString,
  Length,
  Matches,
  MaxLength,
  ValidateIf,
} from 'class-validator';

import { IsMetadata, METADATA_DOC } from 'src/platform/http/metadata';
import { PageQueryDto } from 'src/platform/http/pagination';

const NOT_BLANK = /\S/;
// The billing system's id as it gives it: no surrounding whitespace that would make two ids look alike.
const EXTERNAL_ID = /^\S(?:.*\S)?$/s;

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
    type: String,
    nullable: true,
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
