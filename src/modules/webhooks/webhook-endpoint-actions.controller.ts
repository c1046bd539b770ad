import { Body, Controller, HttpCode, Param, ParseUUIDPipe, Post } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiTags,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';

import { WebhookDeliveryService } from 'src/modules/webhooks/webhook-delivery.service';
import { WebhookEndpointService } from 'src/modules/webhooks/webhook-endpoint.service';
import {
  RecoverDto,
  RecoverResultDto,
  RotateSecretDto,
  SendTestDto,
  WebhookDeliveryDto,
  WebhookEndpointWithSecretDto,
} from 'src/modules/webhooks/webhook.dto';
import type { Actor } from 'src/platform/auth/actor';
import { Authenticated, CurrentActor } from 'src/platform/auth/authenticated.decorator';
import { Permission } from 'src/platform/auth/permission';
import { Idempotent } from 'src/platform/http/idempotency';

const NOT_FOUND = { description: 'WEBHOOK_ENDPOINT_NOT_FOUND (problem+json)' };
const DISABLED = { description: 'WEBHOOK_ENDPOINT_DISABLED (problem+json)' };

@ApiTags('webhooks')
@Controller('webhook-endpoints/:id/actions')
export class WebhookEndpointActionsController {
  constructor(
    private readonly endpoints: WebhookEndpointService,
    private readonly deliveries: WebhookDeliveryService,
  ) {}

  /** Not idempotent: a stored replay would keep the new secret in plain text. */
  @Post('rotate-secret')
  @HttpCode(200)
  @Authenticated(Permission.WebhookEndpointSecretRotate, { mfa: 'recent' })
  @ApiOkResponse({
    type: WebhookEndpointWithSecretDto,
    description:
      'The new secret, shown this once; the previous one keeps signing during the overlap',
  })
  @ApiNotFoundResponse(NOT_FOUND)
  @ApiUnprocessableEntityResponse({ description: 'INVALID_WEBHOOK_SECRET (problem+json)' })
  rotateSecret(
    @CurrentActor() actor: Actor,
    @Param('id', ParseUUIDPipe) id: string,
    @Body() body: RotateSecretDto,
  ): Promise<WebhookEndpointWithSecretDto> {
    return this.endpoints.rotateSecret(actor, id, body.secret);
  }

  @Post('recover')
  @HttpCode(202)
  @Authenticated(Permission.WebhookDeliveryRecover)
  @Idempotent()
  @ApiAcceptedResponse({ type: RecoverResultDto })
  @ApiNotFoundResponse(NOT_FOUND)
  @ApiConflictResponse(DISABLED)
  @ApiUnprocessableEntityResponse({ description: 'INVALID_RECOVER_WINDOW (problem+json)' })
  recover(
    @CurrentActor() actor: Actor,
    @Param('id', ParseUUIDPipe) id: string,
    @Body() body: RecoverDto,
  ): Promise<RecoverResultDto> {
    return this.deliveries.recover(actor, id, body.since);
  }

  @Post('send-test')
  @HttpCode(202)
  @Authenticated(Permission.WebhookEndpointSendTest)
  @Idempotent()
  @ApiAcceptedResponse({ type: WebhookDeliveryDto, description: 'A webhook.test event, queued' })
  @ApiNotFoundResponse(NOT_FOUND)
  @ApiConflictResponse(DISABLED)
  sendTest(
    @CurrentActor() actor: Actor,
    @Param('id', ParseUUIDPipe) id: string,
    @Body() body: SendTestDto,
  ): Promise<WebhookDeliveryDto> {
    return this.deliveries.sendTest(actor, id, body.data);
  }
}
