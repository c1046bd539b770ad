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
  CreateCustomerDto,
  CustomerDto,
  CustomerListDto,
  CustomerListQueryDto,
  UpdateCustomerDto,
} from 'src/modules/customers/customer.dto';
import { CustomerService } from 'src/modules/customers/customer.service';
import type { Actor } from 'src/platform/auth/actor';
import { Authenticated, CurrentActor } from 'src/platform/auth/authenticated.decorator';
import { Permission } from 'src/platform/auth/permission';
import { versionFromIfMatch } from 'src/platform/http/etag';
import { Idempotent } from 'src/platform/http/idempotency';

const NOT_FOUND = { description: 'CUSTOMER_NOT_FOUND (problem+json)' };

@ApiTags('customers')
@Controller('customers')
export class CustomerController {
  constructor(private readonly customers: CustomerService) {}

  @Get()
  @Authenticated(Permission.CustomerRead)
  @ApiOkResponse({ type: CustomerListDto })
  list(@Query() query: CustomerListQueryDto): Promise<CustomerListDto> {
    return this.customers.list(query);
  }

  @Post()
  @Authenticated(Permission.CustomerCreate)
  @Idempotent()
  @ApiCreatedResponse({ type: CustomerDto })
  @ApiConflictResponse({ description: 'EXTERNAL_ID_TAKEN (problem+json)' })
  create(@CurrentActor() actor: Actor, @Body() body: CreateCustomerDto): Promise<CustomerDto> {
    return this.customers.create(actor, body);
  }

  @Get(':id')
  @Authenticated(Permission.CustomerRead)
  @ApiOkResponse({ type: CustomerDto, description: 'With an ETag header for PATCH' })
  @ApiNotFoundResponse(NOT_FOUND)
  get(@Param('id', ParseUUIDPipe) id: string): Promise<CustomerDto> {
    return this.customers.get(id);
  }

  @Patch(':id')
  @Authenticated(Permission.CustomerUpdate)
  @ApiHeader({ name: 'If-Match', required: true, description: 'ETag from GET, e.g. W/"3"' })
  @ApiOkResponse({ type: CustomerDto })
  @ApiNotFoundResponse(NOT_FOUND)
  @ApiConflictResponse({ description: 'EXTERNAL_ID_TAKEN, CUSTOMER_ERASED (problem+json)' })
  @ApiPreconditionFailedResponse({ description: 'STALE_VERSION (problem+json)' })
  @ApiPreconditionRequiredResponse({ description: 'PRECONDITION_REQUIRED (problem+json)' })
  update(
    @CurrentActor() actor: Actor,
    @Param('id', ParseUUIDPipe) id: string,
    @Headers('if-match') ifMatch: string | undefined,
    @Body() body: UpdateCustomerDto,
  ): Promise<CustomerDto> {
    return this.customers.update(actor, id, versionFromIfMatch(ifMatch), body);
  }

  @Delete(':id')
  @HttpCode(204)
  @Authenticated(Permission.CustomerDelete)
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiNotFoundResponse(NOT_FOUND)
  @ApiConflictResponse({ description: 'CUSTOMER_HAS_LICENSES: erase it instead (problem+json)' })
  delete(@CurrentActor() actor: Actor, @Param('id', ParseUUIDPipe) id: string): Promise<void> {
    return this.customers.delete(actor, id);
  }

  @Post(':id/actions/erase')
  @HttpCode(200)
  @Authenticated(Permission.CustomerErase)
  @Idempotent()
  @ApiOkResponse({
    type: CustomerDto,
    description: 'Personal data removed; the row, its licenses and the audit trail remain',
  })
  @ApiNotFoundResponse(NOT_FOUND)
  erase(
    @CurrentActor() actor: Actor,
    @Param('id', ParseUUIDPipe) id: string,
  ): Promise<CustomerDto> {
    return this.customers.erase(actor, id);
  }
}
