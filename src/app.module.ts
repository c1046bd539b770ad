import { Module } from '@nestjs/common';
import type { DynamicModule, ForwardReference, Type } from '@nestjs/common';

type ModuleImport = Type | DynamicModule | Promise<DynamicModule> | ForwardReference;
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';

import type { AppConfig } from 'src/config/app-config';
import { ConfigModule } from 'src/config/config.module';
import { AccessGuard } from 'src/platform/auth/access.guard';
import { DatabaseModule } from 'src/platform/database/database.module';
import { ProblemFilter } from 'src/platform/errors/problem.filter';
import { HealthModule } from 'src/platform/health/health.module';
import { LoggingModule } from 'src/platform/logging/logging.module';
import { MetricsModule } from 'src/platform/metrics/metrics.module';
import { OutboxModule } from 'src/platform/outbox/outbox.module';
import { PlatformModule } from 'src/platform/platform.module';
import { EtagInterceptor } from 'src/platform/http/etag';
import { IdempotencyInterceptor } from 'src/platform/http/idempotency';
import { RateLimitGuard, RateLimitModule } from 'src/platform/http/rate-limit';
import { AdminsModule } from 'src/modules/admins/admins.module';
import { AuditModule } from 'src/modules/audit/audit.module';
import { AuditCheckpointModule } from 'src/modules/audit-checkpoints/audit-checkpoint.module';
import { CustomerModule } from 'src/modules/customers/customer.module';
import { EntitlementModule } from 'src/modules/entitlements/entitlement.module';
import { ProductModule } from 'src/modules/products/product.module';
import { ReportModule } from 'src/modules/reports/report.module';
import { LicenseModule } from 'src/modules/licenses/license.module';
import { SigningModule } from 'src/modules/signing/signing.module';
import { WebhookModule } from 'src/modules/webhooks/webhook.module';

@Module({})
export class AppModule {
  /** `extraImports` lets the e2e tests mount probe controllers on the real application. */
  static register(
    config: AppConfig,
    databaseUrl: string,
    extraImports: ModuleImport[] = [],
  ): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggingModule,
        DatabaseModule.forRoot(config, databaseUrl),
        PlatformModule,
        OutboxModule,
        MetricsModule,
        RateLimitModule,
        HealthModule,
        AuditModule,
        AdminsModule,
        SigningModule,
        AuditCheckpointModule,
        CustomerModule,
        ProductModule,
        EntitlementModule,
        LicenseModule,
        WebhookModule,
        ReportModule,
        ...extraImports,
      ],
      providers: [
        // In this order: authenticate and authorise first, so rate limits can count per key and per admin.
        { provide: APP_GUARD, useClass: AccessGuard },
        { provide: APP_GUARD, useExisting: RateLimitGuard },
        { provide: APP_FILTER, useClass: ProblemFilter },
        { provide: APP_INTERCEPTOR, useClass: IdempotencyInterceptor },
        { provide: APP_INTERCEPTOR, useClass: EtagInterceptor },
      ],
    };
  }
}
