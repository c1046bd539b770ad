import { Module } from '@nestjs/common';

import { LicenseModule } from 'src/modules/licenses/license.module';
import { ExportController } from 'src/modules/reports/export.controller';
import { ExportRepository } from 'src/modules/reports/export.repository';
import { ExportService } from 'src/modules/reports/export.service';
import { ReportController } from 'src/modules/reports/report.controller';
import { ReportMetrics } from 'src/modules/reports/report.metrics';
import { ReportRepository } from 'src/modules/reports/report.repository';
import { ReportService } from 'src/modules/reports/report.service';
import { UsageFolder } from 'src/modules/reports/usage-folder';

/**
 * Time series and snapshots over the licensing data, and streaming exports of it (docs/reports.md). It
 * reads the licensing tables in SQL of its own, as the validation hot path reads the catalog's: analytics
 * join what the modules keep apart (docs/adr/0013-usage-rollups.md).
 */
@Module({
  imports: [LicenseModule],
  controllers: [ReportController, ExportController],
  providers: [
    ReportRepository,
    ReportService,
    UsageFolder,
    ExportRepository,
    ExportService,
    ReportMetrics,
  ],
  exports: [UsageFolder],
})
export class ReportModule {}
