import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';

import { AuditController } from 'src/modules/audit/audit.controller';
import { AuditEventEntity } from 'src/modules/audit/audit-event.entity';
import { AuditRepository } from 'src/modules/audit/audit.repository';
import { AuditService } from 'src/modules/audit/audit.service';

/** Global: every module that mutates records through AuditService without importing this module. */
@Global()
@Module({
  imports: [TypeOrmModule.forFeature([AuditEventEntity])],
  controllers: [AuditController],
  providers: [AuditRepository, AuditService],
  exports: [AuditService],
})
export class AuditModule {}
