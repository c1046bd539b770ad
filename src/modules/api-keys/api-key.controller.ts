import { Body, Controller, Get, HttpCode, Param, ParseUUIDPipe, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';

import {
  ApiKeyDto,
  ApiKeyListDto,
  CreateApiKeyDto,
  CreatedApiKeyDto,
} from 'src/modules/api-keys/api-key.dto';
import { ApiKeyService } from 'src/modules/api-keys/api-key.service';
import type { Actor } from 'src/platform/auth/actor';
import { Authenticated, CurrentActor } from 'src/platform/auth/authenticated.decorator';
import { Permission } from 'src/platform/auth/permission';
import { PageQueryDto } from 'src/platform/http/pagination';

@ApiTags('api-keys')
@Controller('api-keys')
export class ApiKeyController {
  constructor(private readonly apiKeys: ApiKeyService) {}

  @Post()
  @Authenticated(Permission.ApiKeyCreate, { mfa: 'recent' })
  @ApiCreatedResponse({
    type: CreatedApiKeyDto,
    description: 'The key is in the response this once',
  })
  create(@CurrentActor() actor: Actor, @Body() body: CreateApiKeyDto): Promise<CreatedApiKeyDto> {
    return this.apiKeys.create(actor, body);
  }

  @Get()
  @Authenticated(Permission.ApiKeyRead)
  @ApiOkResponse({ type: ApiKeyListDto })
  list(@Query() query: PageQueryDto): Promise<ApiKeyListDto> {
    return this.apiKeys.list(query.limit, query.cursor);
  }

  @Get(':id')
  @Authenticated(Permission.ApiKeyRead)
  @ApiOkResponse({ type: ApiKeyDto })
  get(@Param('id', ParseUUIDPipe) id: string): Promise<ApiKeyDto> {
    return this.apiKeys.get(id);
  }

  @Post(':id/actions/revoke')
  @HttpCode(200)
  @Authenticated(Permission.ApiKeyRevoke)
  @ApiOkResponse({ type: ApiKeyDto })
  revoke(@CurrentActor() actor: Actor, @Param('id', ParseUUIDPipe) id: string): Promise<ApiKeyDto> {
    return this.apiKeys.revoke(actor, id);
  }
}
