import { Module } from '@nestjs/common';

import { AuditCheckpointController } from 'src/modules/audit-checkpoints/audit-checkpoint.controller';
import { AuditCheckpointMetrics } from 'src/modules/audit-checkpoints/audit-checkpoint.metrics';
import { AuditCheckpointRepository } from 'src/modules/audit-checkpoints/audit-checkpoint.repository';
import { AuditCheckpointService } from 'src/modules/audit-checkpoints/audit-checkpoint.service';
import { AuditModule } from 'src/modules/audit/audit.module';
import { SigningModule } from 'src/modules/signing/signing.module';

/**
 * Signed checkpoints of the audit chain head: the audit log's, signed by the signing module's audit key.
 * A module of its own because it needs both, and signing already uses audit (key changes are audited).
 */
@Module({
  imports: [AuditModule, SigningModule],
  controllers: [AuditCheckpointController],
  providers: [AuditCheckpointRepository, AuditCheckpointService, AuditCheckpointMetrics],
  exports: [AuditCheckpointService],
})
export class AuditCheckpointModule {}
