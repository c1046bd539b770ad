import {
  Body,
  Controller,
  Get,
  Headers,
  Param,
  ParseUUIDPipe,
  Patch,
  Post,
  Query,
  Res,
} from '@nestjs/common';
import { ApiCreatedResponse, ApiHeader, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';

import {
  IssuedLicenseDto,
  IssueLicenseDto,
  LicenseDto,
  LicenseListDto,
  LicenseQueryDto,
  UpdateLicenseDto,
} from 'src/modules/licenses/license.dto';
import { LicenseService } from 'src/modules/licenses/license.service';
import type { Actor } from 'src/platform/auth/actor';
import { Authenticated, CurrentActor } from 'src/platform/auth/authenticated.decorator';
import { Permission } from 'src/platform/auth/permission';
import { etagOf, versionFromIfMatch } from 'src/platform/http/etag';
import { Idempotent } from 'src/platform/http/idempotency';

@ApiTags('licenses')
@Controller('licenses')
export class LicenseController {
  constructor(private readonly licenses: LicenseService) {}

  @Post()
  @Authenticated(Permission.LicenseCreate)
  @Idempotent()
  @ApiCreatedResponse({ type: IssuedLicenseDto, description: 'The key is in this response only' })
  issue(@CurrentActor() actor: Actor, @Body() body: IssueLicenseDto): Promise<IssuedLicenseDto> {
    return this.licenses.issue(actor, body);
  }

  @Get()
  @Authenticated(Permission.LicenseRead)
  @ApiOkResponse({ type: LicenseListDto })
  list(@Query() query: LicenseQueryDto): Promise<LicenseListDto> {
    return this.licenses.list(query.limit, query.cursor, query);
  }

  @Get(':id')
  @Authenticated(Permission.LicenseRead)
  @ApiOkResponse({ type: LicenseDto })
  async get(
    @Param('id', ParseUUIDPipe) id: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<LicenseDto> {
    const license = await this.licenses.get(id);
    void reply.header('etag', etagOf(license.version));
    return license;
  }

  @Patch(':id')
  @Authenticated(Permission.LicenseUpdate)
  @ApiHeader({ name: 'If-Match', required: true })
  @ApiOkResponse({ type: LicenseDto })
  async update(
    @CurrentActor() actor: Actor,
    @Param('id', ParseUUIDPipe) id: string,
    @Headers('if-match') ifMatch: string | undefined,
    @Body() body: UpdateLicenseDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<LicenseDto> {
    const license = await this.licenses.update(actor, id, versionFromIfMatch(ifMatch), body);
    void reply.header('etag', etagOf(license.version));
    return license;
  }
}
