import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';

import {
  ExpiringQueryDto,
  ExpiringReportDto,
  MachinesQueryDto,
  MachinesReportDto,
  NearLimitsQueryDto,
  NearLimitsReportDto,
  ReportCatalogDto,
  ReportScopeQueryDto,
  SeatsReportDto,
  TimeSeriesDto,
  TimeSeriesQueryDto,
} from 'src/modules/reports/report.dto';
import { ReportService } from 'src/modules/reports/report.service';
import { Authenticated } from 'src/platform/auth/authenticated.decorator';
import { Permission } from 'src/platform/auth/permission';

const SERIES_DOC = 'Gapless buckets in tz; 400 TOO_MANY_BUCKETS past 3000, INVALID_TIME_ZONE';

@ApiTags('reports')
@Controller('reports')
export class ReportController {
  constructor(private readonly reports: ReportService) {}

  @Get()
  @Authenticated(Permission.ReportRead)
  @ApiOkResponse({ type: ReportCatalogDto, description: 'The reports and dimensions offered' })
  catalog(): ReportCatalogDto {
    return this.reports.catalog();
  }

  @Get('validations')
  @Authenticated(Permission.ReportRead)
  @ApiOkResponse({ type: TimeSeriesDto, description: `Validations by result code. ${SERIES_DOC}` })
  validations(@Query() query: TimeSeriesQueryDto): Promise<TimeSeriesDto> {
    return this.reports.timeSeries('validations', query);
  }

  @Get('activations')
  @Authenticated(Permission.ReportRead)
  @ApiOkResponse({
    type: TimeSeriesDto,
    description: `Machines activated, deactivated and culled. ${SERIES_DOC}`,
  })
  activations(@Query() query: TimeSeriesQueryDto): Promise<TimeSeriesDto> {
    return this.reports.timeSeries('activations', query);
  }

  @Get('licenses')
  @Authenticated(Permission.ReportRead)
  @ApiOkResponse({
    type: TimeSeriesDto,
    description: `Licenses created, expired, suspended, reinstated, renewed, revoked. ${SERIES_DOC}`,
  })
  licenses(@Query() query: TimeSeriesQueryDto): Promise<TimeSeriesDto> {
    return this.reports.timeSeries('licenses', query);
  }

  @Get('webhook-deliveries')
  @Authenticated(Permission.ReportRead)
  @ApiOkResponse({
    type: TimeSeriesDto,
    description: `Delivery attempts by outcome (not per product, policy or customer). ${SERIES_DOC}`,
  })
  webhookDeliveries(@Query() query: TimeSeriesQueryDto): Promise<TimeSeriesDto> {
    return this.reports.timeSeries('webhook-deliveries', query);
  }

  @Get('seats')
  @Authenticated(Permission.ReportRead)
  @ApiOkResponse({
    type: SeatsReportDto,
    description: 'Seats in use vs allowed per product and policy',
  })
  seats(@Query() query: ReportScopeQueryDto): Promise<SeatsReportDto> {
    return this.reports.seats(query);
  }

  @Get('near-limits')
  @Authenticated(Permission.ReportRead)
  @ApiOkResponse({
    type: NearLimitsReportDto,
    description: 'Licenses near their machine or usage limit',
  })
  nearLimits(@Query() query: NearLimitsQueryDto): Promise<NearLimitsReportDto> {
    return this.reports.nearLimits(query);
  }

  @Get('expiring')
  @Authenticated(Permission.ReportRead)
  @ApiOkResponse({ type: ExpiringReportDto, description: 'Licenses expiring in the next N days' })
  expiring(@Query() query: ExpiringQueryDto): Promise<ExpiringReportDto> {
    return this.reports.expiring(query);
  }

  @Get('machines')
  @Authenticated(Permission.ReportRead)
  @ApiOkResponse({
    type: MachinesReportDto,
    description: 'Machines by platform, version or (with a GeoIP database) country',
  })
  machines(@Query() query: MachinesQueryDto): Promise<MachinesReportDto> {
    return this.reports.machines(query);
  }
}
