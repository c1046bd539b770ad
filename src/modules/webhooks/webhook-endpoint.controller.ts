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
  ApiHeader,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiPreconditionFailedResponse,
  ApiPreconditionRequiredResponse,
  ApiTags,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';

import { WebhookEndpointService } from 'src/modules/webhooks/webhook-endpoint.service';
import {
  CreateWebhookEndpointDto,
  UpdateWebhookEndpointDto,
  WebhookEndpointDto,
  WebhookEndpointListDto,
  WebhookEndpointListQueryDto,
  WebhookEndpointWithSecretDto,
} from 'src/modules/webhooks/webhook.dto';
import type { Actor } from 'src/platform/auth/actor';
import { Authenticated, CurrentActor } from 'src/platform/auth/authenticated.decorator';
import { Permission } from 'src/platform/auth/permission';
import { versionFromIfMatch } from 'src/platform/http/etag';

const NOT_FOUND = { description: 'WEBHOOK_ENDPOINT_NOT_FOUND (problem+json)' };
const BAD_URL = {
  description:
    'INVALID_WEBHOOK_URL, WEBHOOK_ADDRESS_FORBIDDEN, INVALID_WEBHOOK_SECRET (problem+json)',
};

/**
 * Creation is not idempotent on purpose: a stored replay would keep the secret in plain text for 24 h. A
 * duplicate endpoint from a retried creation costs nothing: receivers deduplicate on `webhook-id`.
 */
@ApiTags('webhooks')
@Controller('webhook-endpoints')
export class WebhookEndpointController {
  constructor(private readonly endpoints: WebhookEndpointService) {}

  @Get()
  @Authenticated(Permission.WebhookEndpointRead)
  @ApiOkResponse({ type: WebhookEndpointListDto })
  list(@Query() query: WebhookEndpointListQueryDto): Promise<WebhookEndpointListDto> {
    return this.endpoints.list(query);
  }

  @Post()
  @Authenticated(Permission.WebhookEndpointCreate)
  @ApiCreatedResponse({
    type: WebhookEndpointWithSecretDto,
    description: 'The signing secret is in the response this once',
  })
  @ApiUnprocessableEntityResponse(BAD_URL)
  create(
    @CurrentActor() actor: Actor,
    @Body() body: CreateWebhookEndpointDto,
  ): Promise<WebhookEndpointWithSecretDto> {
    return this.endpoints.create(actor, body);
  }

  @Get(':id')
  @Authenticated(Permission.WebhookEndpointRead)
  @ApiOkResponse({ type: WebhookEndpointDto, description: 'With an ETag header for PATCH' })
  @ApiNotFoundResponse(NOT_FOUND)
  get(@Param('id', ParseUUIDPipe) id: string): Promise<WebhookEndpointDto> {
    return this.endpoints.get(id);
  }

  @Patch(':id')
  @Authenticated(Permission.WebhookEndpointUpdate)
  @ApiHeader({ name: 'If-Match', required: true, description: 'ETag from GET, e.g. W/"3"' })
  @ApiOkResponse({ type: WebhookEndpointDto })
  @ApiNotFoundResponse(NOT_FOUND)
  @ApiUnprocessableEntityResponse(BAD_URL)
  @ApiPreconditionFailedResponse({ description: 'STALE_VERSION (problem+json)' })
  @ApiPreconditionRequiredResponse({ description: 'PRECONDITION_REQUIRED (problem+json)' })
  update(
    @CurrentActor() actor: Actor,
    @Param('id', ParseUUIDPipe) id: string,
    @Headers('if-match') ifMatch: string | undefined,
    @Body() body: UpdateWebhookEndpointDto,
  ): Promise<WebhookEndpointDto> {
    return this.endpoints.update(actor, id, versionFromIfMatch(ifMatch), body);
  }

  @Delete(':id')
  @HttpCode(204)
  @Authenticated(Permission.WebhookEndpointDelete)
  @ApiNoContentResponse({ description: 'Deleted, with its deliveries and their attempt log' })
  @ApiNotFoundResponse(NOT_FOUND)
  delete(@CurrentActor() actor: Actor, @Param('id', ParseUUIDPipe) id: string): Promise<void> {
    return this.endpoints.delete(actor, id);
  }
}
