import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';

import { EntitlementModule } from 'src/modules/entitlements/entitlement.module';
import { LicenseActionsController } from 'src/modules/licenses/license-actions.controller';
import { LicenseFileController } from 'src/modules/licenses/license-file.controller';
import { LicenseFileService } from 'src/modules/licenses/license-file.service';
import { LicenseController } from 'src/modules/licenses/license.controller';
import { LicenseMetrics } from 'src/modules/licenses/license.metrics';
import { LicenseEntity, MachineEntity, PolicyEntity } from 'src/modules/licenses/license.entity';
import { LicenseEntitlementService } from 'src/modules/licenses/license-entitlement.service';
import { LicenseRepository } from 'src/modules/licenses/license.repository';
import { LicenseUsageService } from 'src/modules/licenses/license-usage.service';
import { MachineRepository } from 'src/modules/licenses/machine.repository';
import { PolicyRepository } from 'src/modules/licenses/policy.repository';
import { ValidationRepository } from 'src/modules/licenses/validation.repository';
import { LicenseService } from 'src/modules/licenses/license.service';
import { MachineKeyController } from 'src/modules/licenses/machine-key.controller';
import { MachineKeyService } from 'src/modules/licenses/machine-key.service';
import { MachineController } from 'src/modules/licenses/machine.controller';
import { MachineService } from 'src/modules/licenses/machine.service';
import { PolicyController } from 'src/modules/licenses/policy.controller';
import { PolicyService } from 'src/modules/licenses/policy.service';
import { ValidationRoute } from 'src/modules/licenses/validation.route';
import { ValidationService } from 'src/modules/licenses/validation.service';
import { ProductModule } from 'src/modules/products/product.module';
import { SigningModule } from 'src/modules/signing/signing.module';
import { RateLimitModule } from 'src/platform/http/rate-limit';

@Module({
  imports: [
    TypeOrmModule.forFeature([PolicyEntity, LicenseEntity, MachineEntity]),
    EntitlementModule,
    ProductModule,
    SigningModule,
    // The raw validation route counts its hits in the throttler's storage, shared with the validate routes.
    RateLimitModule,
  ],
  controllers: [
    PolicyController,
    LicenseController,
    LicenseActionsController,
    MachineController,
    MachineKeyController,
    LicenseFileController,
  ],
  // The validation hot path is ValidationRoute, a plain Fastify route registered by createApp.
  providers: [
    LicenseRepository,
    MachineRepository,
    PolicyRepository,
    ValidationRepository,
    LicenseMetrics,
    PolicyService,
    LicenseService,
    LicenseUsageService,
    LicenseEntitlementService,
    MachineService,
    MachineKeyService,
    LicenseFileService,
    ValidationService,
    ValidationRoute,
  ],
  exports: [LicenseService, ValidationService, ValidationRoute],
})
export class LicenseModule {}
