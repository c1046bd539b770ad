import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
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
const CODE = /^[a-z0-9]+(-[a-z0-9]+)*$/;

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

export class ProductDto {
  @ApiProperty() id: string;
  @ApiProperty({ example: 'acme-cad' }) code: string;
  @ApiProperty() name: string;
  @ApiProperty(METADATA_DOC) metadata: Record<string, unknown>;
  @ApiProperty() createdAt: string;
  @ApiProperty() updatedAt: string;
  @ApiProperty({ description: 'Row version; send as If-Match: W/"<version>" to PATCH' })
  version: number;
}

export class ProductListDto {
  @ApiProperty({ type: [ProductDto] }) data: ProductDto[];
  @ApiProperty({ nullable: true, type: String }) nextCursor: string | null;
}

export class CreateProductDto {
  @ApiProperty({
    example: 'acme-cad',
    maxLength: 64,
    pattern: CODE.source,
    description: 'Unique slug; fixed once created (delete an unused product to correct it)',
  })
  @IsString()
  @MaxLength(64)
  @Matches(CODE, { message: 'code must be lowercase letters and digits in dash-separated groups' })
  code: string;

  @ApiProperty({ example: 'Acme CAD' })
  @IsString()
  @Length(1, 200)
  @Matches(NOT_BLANK, { message: 'name must not be blank' })
  name: string;

  @ApiPropertyOptional(METADATA_DOC)
  @IsOptional()
  @IsMetadata()
  metadata?: Record<string, unknown>;
}

/** Absent fields stay as they are; metadata is replaced whole. The code cannot change. */
export class UpdateProductDto {
  @ApiPropertyOptional()
  @ValidateIf((_, value) => value !== undefined)
  @IsString()
  @Length(1, 200)
  @Matches(NOT_BLANK, { message: 'name must not be blank' })
  name?: string;

  @ApiPropertyOptional(METADATA_DOC)
  @ValidateIf((_, value) => value !== undefined)
  @IsMetadata()
  metadata?: Record<string, unknown>;
}

export class ProductListQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ description: 'Exact code' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  code?: string;
}
