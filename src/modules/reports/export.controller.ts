import { Controller, Get, Headers, Query, StreamableFile } from '@nestjs/common';
import { ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';

import {
  AuditExportQueryDto,
  CustomerExportQueryDto,
  LicenseExportQueryDto,
  MachineExportQueryDto,
  ValidationExportQueryDto,
} from 'src/modules/reports/export.dto';
import { ExportService } from 'src/modules/reports/export.service';
import type { ExportDownload } from 'src/modules/reports/export.service';
import type { Actor } from 'src/platform/auth/actor';
import { Authenticated, CurrentActor } from 'src/platform/auth/authenticated.decorator';
import { Permission } from 'src/platform/auth/permission';

const DOC =
  'Streamed CSV (RFC 4180, with a header row) or NDJSON; 406 EXPORT_FORMAT_NOT_ACCEPTABLE, 429 EXPORTS_BUSY';

function download({ stream, contentType, filename }: ExportDownload): StreamableFile {
  return new StreamableFile(stream, {
    type: contentType,
    disposition: `attachment; filename="${filename}"`,
  });
}

@ApiTags('exports')
@Controller('exports')
export class ExportController {
  constructor(private readonly exports: ExportService) {}

  @Get('licenses')
  @Authenticated(Permission.LicenseRead)
  @ApiProduces('text/csv', 'application/x-ndjson')
  @ApiOkResponse({ description: `Licenses, oldest first. ${DOC}` })
  async licenses(
    @CurrentActor() actor: Actor,
    @Query() query: LicenseExportQueryDto,
    @Headers('accept') accept?: string,
  ): Promise<StreamableFile> {
    return download(await this.exports.start(actor, 'licenses', query, accept));
  }

  @Get('machines')
  @Authenticated(Permission.MachineRead)
  @ApiProduces('text/csv', 'application/x-ndjson')
  @ApiOkResponse({ description: `Machines, oldest first. ${DOC}` })
  async machines(
    @CurrentActor() actor: Actor,
    @Query() query: MachineExportQueryDto,
    @Headers('accept') accept?: string,
  ): Promise<StreamableFile> {
    return download(await this.exports.start(actor, 'machines', query, accept));
  }

  @Get('customers')
  @Authenticated(Permission.CustomerRead)
  @ApiProduces('text/csv', 'application/x-ndjson')
  @ApiOkResponse({
    description: `Customers, oldest first; name, email, externalId and metadata only with customer.export-personal-data. ${DOC}`,
  })
  async customers(
    @CurrentActor() actor: Actor,
    @Query() query: CustomerExportQueryDto,
    @Headers('accept') accept?: string,
  ): Promise<StreamableFile> {
    return download(await this.exports.start(actor, 'customers', query, accept));
  }

  @Get('audit-events')
  @Authenticated(Permission.AuditRead)
  @ApiProduces('text/csv', 'application/x-ndjson')
  @ApiOkResponse({ description: `The audit log in chain order. ${DOC}` })
  async auditEvents(
    @CurrentActor() actor: Actor,
    @Query() query: AuditExportQueryDto,
    @Headers('accept') accept?: string,
  ): Promise<StreamableFile> {
    return download(await this.exports.start(actor, 'audit-events', query, accept));
  }

  @Get('validations')
  @Authenticated(Permission.ReportRead)
  @ApiProduces('text/csv', 'application/x-ndjson')
  @ApiOkResponse({
    description: `Raw validations, oldest first, as kept for REPORTS_RAW_RETENTION_DAYS. ${DOC}`,
  })
  async validations(
    @CurrentActor() actor: Actor,
    @Query() query: ValidationExportQueryDto,
    @Headers('accept') accept?: string,
  ): Promise<StreamableFile> {
    return download(await this.exports.start(actor, 'validations', query, accept));
  }
}
