import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';

import { APP_CONFIG } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';
import { SigningModule } from 'src/modules/signing/signing.module';
import { AddressPolicy } from 'src/modules/webhooks/webhook-address';
import { WebhookDeliveryController } from 'src/modules/webhooks/webhook-delivery.controller';
import {
  WebhookAttemptEntity,
  WebhookDeliveryEntity,
} from 'src/modules/webhooks/webhook-delivery.entity';
import { WebhookDeliveryRepository } from 'src/modules/webhooks/webhook-delivery.repository';
import { WebhookDeliveryService } from 'src/modules/webhooks/webhook-delivery.service';
import { WebhookDeliveryWorker } from 'src/modules/webhooks/webhook-delivery.worker';
import { WebhookEndpointActionsController } from 'src/modules/webhooks/webhook-endpoint-actions.controller';
import { WebhookEndpointController } from 'src/modules/webhooks/webhook-endpoint.controller';
import { WebhookEndpointEntity } from 'src/modules/webhooks/webhook-endpoint.entity';
import { WebhookEndpointRepository } from 'src/modules/webhooks/webhook-endpoint.repository';
import { WebhookEndpointService } from 'src/modules/webhooks/webhook-endpoint.service';
import { WebhookQueueRepository } from 'src/modules/webhooks/webhook-queue.repository';
import { WebhookSender } from 'src/modules/webhooks/webhook-sender';
import { WebhookMetrics } from 'src/modules/webhooks/webhook.metrics';
import { WebhookSigner } from 'src/modules/webhooks/webhook-signer';
import { packageVersion } from 'src/platform/version';

/** Signed webhooks: endpoints, and the dispatcher that delivers outbox events to them. */
@Module({
  imports: [
    TypeOrmModule.forFeature([WebhookEndpointEntity, WebhookDeliveryEntity, WebhookAttemptEntity]),
    SigningModule,
  ],
  controllers: [
    WebhookEndpointController,
    WebhookEndpointActionsController,
    WebhookDeliveryController,
  ],
  providers: [
    {
      provide: AddressPolicy,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => new AddressPolicy(config.webhooks.allowedAddresses),
    },
    {
      provide: WebhookSender,
      inject: [APP_CONFIG, AddressPolicy],
      useFactory: (config: AppConfig, policy: AddressPolicy) =>
        new WebhookSender({
          policy,
          allowHttp: config.webhooks.allowHttp,
          connectTimeoutMs: config.webhooks.connectTimeoutMs,
          timeoutMs: config.webhooks.timeoutMs,
          userAgent: `Tessera-Webhooks/${packageVersion()}`,
        }),
    },
    WebhookEndpointRepository,
    WebhookDeliveryRepository,
    WebhookQueueRepository,
    WebhookMetrics,
    WebhookEndpointService,
    WebhookDeliveryService,
    WebhookSigner,
    WebhookDeliveryWorker,
  ],
  exports: [WebhookDeliveryWorker],
})
export class WebhookModule {}
