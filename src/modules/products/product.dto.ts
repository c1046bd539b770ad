import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Length, Matches, MaxLength, ValidateIf } from 'class-validator';

import { IsMetadata, METADATA_DOC } from 'src/platform/http/metadata';
import { PageQueryDto } from 'src/platform/http/pagination';

const NOT_BLANK = /\S/;
const CODE = /^[a-z0-9]+(-[a-z0-9]+)*$/;

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
