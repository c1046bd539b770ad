import { Controller, Get, HttpCode, Param, ParseUUIDPipe, Post, Query } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiTags,
} from '@nestjs/swagger';

import { WebhookDeliveryService } from 'src/modules/webhooks/webhook-delivery.service';
import {
  WebhookDeliveryDetailDto,
  WebhookDeliveryDto,
  WebhookDeliveryListDto,
  WebhookDeliveryListQueryDto,
} from 'src/modules/webhooks/webhook.dto';
import type { Actor } from 'src/platform/auth/actor';
import { Authenticated, CurrentActor } from 'src/platform/auth/authenticated.decorator';
import { Permission } from 'src/platform/auth/permission';
import { Idempotent } from 'src/platform/http/idempotency';

@ApiTags('webhooks')
@Controller()
export class WebhookDeliveryController {
  constructor(private readonly deliveries: WebhookDeliveryService) {}

  @Get('webhook-endpoints/:id/deliveries')
  @Authenticated(Permission.WebhookDeliveryRead)
  @ApiOkResponse({ type: WebhookDeliveryListDto, description: 'Newest first' })
  @ApiNotFoundResponse({ description: 'WEBHOOK_ENDPOINT_NOT_FOUND (problem+json)' })
  list(
    @Param('id', ParseUUIDPipe) id: string,
    @Query() query: WebhookDeliveryListQueryDto,
  ): Promise<WebhookDeliveryListDto> {
    return this.deliveries.listForEndpoint(id, query);
  }

  @Get('webhook-deliveries/:id')
  @Authenticated(Permission.WebhookDeliveryRead)
  @ApiOkResponse({ type: WebhookDeliveryDetailDto, description: 'With every attempt' })
  @ApiNotFoundResponse({ description: 'WEBHOOK_DELIVERY_NOT_FOUND (problem+json)' })
  get(@Param('id', ParseUUIDPipe) id: string): Promise<WebhookDeliveryDetailDto> {
    return this.deliveries.get(id);
  }

  @Post('webhook-deliveries/:id/actions/retry')
  @HttpCode(202)
  @Authenticated(Permission.WebhookDeliveryRetry)
  @Idempotent()
  @ApiAcceptedResponse({ type: WebhookDeliveryDto, description: 'Due now, with a fresh schedule' })
  @ApiNotFoundResponse({ description: 'WEBHOOK_DELIVERY_NOT_FOUND (problem+json)' })
  @ApiConflictResponse({
    description: 'WEBHOOK_DELIVERY_IN_PROGRESS, WEBHOOK_ENDPOINT_DISABLED (problem+json)',
  })
  retry(
    @CurrentActor() actor: Actor,
    @Param('id', ParseUUIDPipe) id: string,
  ): Promise<WebhookDeliveryDto> {
    return this.deliveries.retry(actor, id);
  }
}
