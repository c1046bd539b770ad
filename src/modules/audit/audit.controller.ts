import { Controller, Get, Query, StreamableFile } from '@nestjs/common';
import { ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';

import {
  AuditEventDto,
  AuditEventPageDto,
  AuditEventQueryDto,
  AuditFilterDto,
  AuditVerifyResultDto,
} from 'src/modules/audit/audit.dto';
import type { AuditVerifyResult } from 'src/modules/audit/audit.dto';
import { AuditService } from 'src/modules/audit/audit.service';
import { Authenticated } from 'src/platform/auth/authenticated.decorator';
import { Permission } from 'src/platform/auth/permission';

@ApiTags('audit')
@Controller('audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get('events')
  @Authenticated(Permission.AuditRead)
  @ApiOkResponse({ type: AuditEventPageDto })
  list(@Query() query: AuditEventQueryDto): Promise<AuditEventPageDto> {
    return this.audit.list(query);
  }

  @Get('events/export')
  @Authenticated(Permission.AuditRead)
  @ApiProduces('application/x-ndjson')
  @ApiOkResponse({ type: AuditEventDto, description: 'One event per line, oldest first (NDJSON)' })
  export(@Query() query: AuditFilterDto): StreamableFile {
    return new StreamableFile(this.audit.export(query), {
      type: 'application/x-ndjson',
      disposition: 'attachment; filename="audit-events.ndjson"',
    });
  }

  @Get('verify')
  @Authenticated(Permission.AuditVerify)
  @ApiOkResponse({
    type: AuditVerifyResultDto,
    description: 'ok: false names the first broken link',
  })
  verify(): Promise<AuditVerifyResult> {
    return this.audit.verify();
  }
}
