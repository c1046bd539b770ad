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
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiPropertyOptional,
  ApiTags,
  PartialType,
} from '@nestjs/swagger';
import { IsOptional, IsUUID } from 'class-validator';

import { CreatePolicyDto, PolicyDto, PolicyListDto } from 'src/modules/licenses/license.dto';
import { PolicyService } from 'src/modules/licenses/policy.service';
import type { Actor } from 'src/platform/auth/actor';
import { Authenticated, CurrentActor } from 'src/platform/auth/authenticated.decorator';
import { Permission } from 'src/platform/auth/permission';
import { versionFromIfMatch } from 'src/platform/http/etag';
import { Idempotent } from 'src/platform/http/idempotency';
import { PageQueryDto } from 'src/platform/http/pagination';

class PolicyQueryDto extends PageQueryDto {
  @ApiPropertyOptional() @IsOptional() @IsUUID() productId?: string;
}

class UpdatePolicyDto extends PartialType(CreatePolicyDto) {}

@ApiTags('policies')
@Controller('policies')
export class PolicyController {
  constructor(private readonly policies: PolicyService) {}

  @Post()
  @Authenticated(Permission.PolicyCreate)
  @Idempotent()
  @ApiCreatedResponse({ type: PolicyDto })
  create(@CurrentActor() actor: Actor, @Body() body: CreatePolicyDto): Promise<PolicyDto> {
    return this.policies.create(actor, body);
  }

  @Get()
  @Authenticated(Permission.PolicyRead)
  @ApiOkResponse({ type: PolicyListDto })
  list(@Query() query: PolicyQueryDto): Promise<PolicyListDto> {
    return this.policies.list(query.limit, query.cursor, query.productId);
  }

  @Get(':id')
  @Authenticated(Permission.PolicyRead)
  @ApiOkResponse({ type: PolicyDto })
  get(@Param('id', ParseUUIDPipe) id: string): Promise<PolicyDto> {
    return this.policies.get(id);
  }

  @Patch(':id')
  @Authenticated(Permission.PolicyUpdate)
  @ApiOkResponse({ type: PolicyDto })
  update(
    @CurrentActor() actor: Actor,
    @Param('id', ParseUUIDPipe) id: string,
    @Headers('if-match') ifMatch: string | undefined,
    @Body() body: UpdatePolicyDto,
  ): Promise<PolicyDto> {
    return this.policies.update(actor, id, versionFromIfMatch(ifMatch), body);
  }

  @Delete(':id')
  @HttpCode(204)
  @Authenticated(Permission.PolicyDelete)
  @ApiNoContentResponse()
  delete(@CurrentActor() actor: Actor, @Param('id', ParseUUIDPipe) id: string): Promise<void> {
    return this.policies.delete(actor, id);
  }
}
