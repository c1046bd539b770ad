import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';

import { EntitlementController } from 'src/modules/entitlements/entitlement.controller';
import { EntitlementEntity } from 'src/modules/entitlements/entitlement.entity';
import { EntitlementRepository } from 'src/modules/entitlements/entitlement.repository';
import { EntitlementService } from 'src/modules/entitlements/entitlement.service';

@Module({
  imports: [TypeOrmModule.forFeature([EntitlementEntity])],
  controllers: [EntitlementController],
  providers: [EntitlementRepository, EntitlementService],
  exports: [EntitlementService],
})
export class EntitlementModule {}
