import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  Param,
  ParseUUIDPipe,
  Patch,
  Post,
  Query,
} from '@nestjs/common';
import {
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiHeader,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiPreconditionFailedResponse,
  ApiPreconditionRequiredResponse,
  ApiTags,
} from '@nestjs/swagger';

import {
  CreateProductDto,
  ProductDto,
  ProductListDto,
  ProductListQueryDto,
  UpdateProductDto,
} from 'src/modules/products/product.dto';
import { ProductService } from 'src/modules/products/product.service';
import type { Actor } from 'src/platform/auth/actor';
import { Authenticated, CurrentActor } from 'src/platform/auth/authenticated.decorator';
import { Permission } from 'src/platform/auth/permission';
import { versionFromIfMatch } from 'src/platform/http/etag';
import { Idempotent } from 'src/platform/http/idempotency';

const NOT_FOUND = { description: 'PRODUCT_NOT_FOUND (problem+json)' };

@ApiTags('products')
@Controller('products')
export class ProductController {
  constructor(private readonly products: ProductService) {}

  @Get()
  @Authenticated(Permission.ProductRead)
  @ApiOkResponse({ type: ProductListDto })
  list(@Query() query: ProductListQueryDto): Promise<ProductListDto> {
    return this.products.list(query);
  }

  @Post()
  @Authenticated(Permission.ProductCreate)
  @Idempotent()
  @ApiCreatedResponse({ type: ProductDto })
  @ApiConflictResponse({ description: 'PRODUCT_CODE_TAKEN (problem+json)' })
  create(@CurrentActor() actor: Actor, @Body() body: CreateProductDto): Promise<ProductDto> {
    return this.products.create(actor, body);
  }

  @Get(':id')
  @Authenticated(Permission.ProductRead)
  @ApiOkResponse({ type: ProductDto, description: 'With an ETag header for PATCH' })
  @ApiNotFoundResponse(NOT_FOUND)
  get(@Param('id', ParseUUIDPipe) id: string): Promise<ProductDto> {
    return this.products.get(id);
  }

  @Patch(':id')
  @Authenticated(Permission.ProductUpdate)
  @ApiHeader({ name: 'If-Match', required: true, description: 'ETag from GET, e.g. W/"3"' })
  @ApiOkResponse({ type: ProductDto })
  @ApiNotFoundResponse(NOT_FOUND)
  @ApiPreconditionFailedResponse({ description: 'STALE_VERSION (problem+json)' })
  @ApiPreconditionRequiredResponse({ description: 'PRECONDITION_REQUIRED (problem+json)' })
  update(
    @CurrentActor() actor: Actor,
    @Param('id', ParseUUIDPipe) id: string,
    @Headers('if-match') ifMatch: string | undefined,
    @Body() body: UpdateProductDto,
  ): Promise<ProductDto> {
    return this.products.update(actor, id, versionFromIfMatch(ifMatch), body);
  }

  @Delete(':id')
  @HttpCode(204)
  @Authenticated(Permission.ProductDelete)
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiNotFoundResponse(NOT_FOUND)
  @ApiConflictResponse({ description: 'PRODUCT_IN_USE (problem+json)' })
  delete(@CurrentActor() actor: Actor, @Param('id', ParseUUIDPipe) id: string): Promise<void> {
    return this.products.delete(actor, id);
  }
}
