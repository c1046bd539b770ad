import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';

import { AuditController } from 'src/modules/audit/audit.controller';
import { AuditEventEntity } from 'src/modules/audit/audit-event.entity';
import { AuditLinker } from 'src/modules/audit/audit-linker';
import { AuditRepository } from 'src/modules/audit/audit.repository';
import { AuditService } from 'src/modules/audit/audit.service';
import { ChangeRecorder } from 'src/modules/audit/change-recorder.service';

/** Global: every module records its changes through ChangeRecorder without importing this module. */
@Global()
@Module({
  imports: [TypeOrmModule.forFeature([AuditEventEntity])],
  controllers: [AuditController],
  providers: [AuditRepository, AuditLinker, AuditService, ChangeRecorder],
  exports: [AuditService, ChangeRecorder],
})
export class AuditModule {}
