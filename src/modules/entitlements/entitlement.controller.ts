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
  CreateEntitlementDto,
  EntitlementDto,
  EntitlementListDto,
  EntitlementListQueryDto,
  UpdateEntitlementDto,
} from 'src/modules/entitlements/entitlement.dto';
import { EntitlementService } from 'src/modules/entitlements/entitlement.service';
import type { Actor } from 'src/platform/auth/actor';
import { Authenticated, CurrentActor } from 'src/platform/auth/authenticated.decorator';
import { Permission } from 'src/platform/auth/permission';
import { versionFromIfMatch } from 'src/platform/http/etag';
import { Idempotent } from 'src/platform/http/idempotency';

const NOT_FOUND = { description: 'ENTITLEMENT_NOT_FOUND (problem+json)' };

@ApiTags('entitlements')
@Controller('entitlements')
export class EntitlementController {
  constructor(private readonly entitlements: EntitlementService) {}

  @Get()
  @Authenticated(Permission.EntitlementRead)
  @ApiOkResponse({ type: EntitlementListDto })
  list(@Query() query: EntitlementListQueryDto): Promise<EntitlementListDto> {
    return this.entitlements.list(query);
  }

  @Post()
  @Authenticated(Permission.EntitlementCreate)
  @Idempotent()
  @ApiCreatedResponse({ type: EntitlementDto })
  @ApiConflictResponse({ description: 'ENTITLEMENT_CODE_TAKEN (problem+json)' })
  create(
    @CurrentActor() actor: Actor,
    @Body() body: CreateEntitlementDto,
  ): Promise<EntitlementDto> {
    return this.entitlements.create(actor, body);
  }

  @Get(':id')
  @Authenticated(Permission.EntitlementRead)
  @ApiOkResponse({ type: EntitlementDto, description: 'With an ETag header for PATCH' })
  @ApiNotFoundResponse(NOT_FOUND)
  get(@Param('id', ParseUUIDPipe) id: string): Promise<EntitlementDto> {
    return this.entitlements.get(id);
  }

  @Patch(':id')
  @Authenticated(Permission.EntitlementUpdate)
  @ApiHeader({ name: 'If-Match', required: true, description: 'ETag from GET, e.g. W/"3"' })
  @ApiOkResponse({ type: EntitlementDto })
  @ApiNotFoundResponse(NOT_FOUND)
  @ApiPreconditionFailedResponse({ description: 'STALE_VERSION (problem+json)' })
  @ApiPreconditionRequiredResponse({ description: 'PRECONDITION_REQUIRED (problem+json)' })
  update(
    @CurrentActor() actor: Actor,
    @Param('id', ParseUUIDPipe) id: string,
    @Headers('if-match') ifMatch: string | undefined,
    @Body() body: UpdateEntitlementDto,
  ): Promise<EntitlementDto> {
    return this.entitlements.update(actor, id, versionFromIfMatch(ifMatch), body);
  }

  @Delete(':id')
  @HttpCode(204)
  @Authenticated(Permission.EntitlementDelete)
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiNotFoundResponse(NOT_FOUND)
  @ApiConflictResponse({ description: 'ENTITLEMENT_IN_USE (problem+json)' })
  delete(@CurrentActor() actor: Actor, @Param('id', ParseUUIDPipe) id: string): Promise<void> {
    return this.entitlements.delete(actor, id);
  }
}
