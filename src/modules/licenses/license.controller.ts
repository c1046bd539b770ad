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
} from '@nestjs/common';
import { ApiCreatedResponse, ApiHeader, ApiOkResponse, ApiTags } from '@nestjs/swagger';

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
import { versionFromIfMatch } from 'src/platform/http/etag';
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
  get(@Param('id', ParseUUIDPipe) id: string): Promise<LicenseDto> {
    return this.licenses.get(id);
  }

  @Patch(':id')
  @Authenticated(Permission.LicenseUpdate)
  @ApiHeader({ name: 'If-Match', required: true })
  @ApiOkResponse({ type: LicenseDto })
  update(
    @CurrentActor() actor: Actor,
    @Param('id', ParseUUIDPipe) id: string,
    @Headers('if-match') ifMatch: string | undefined,
    @Body() body: UpdateLicenseDto,
  ): Promise<LicenseDto> {
    return this.licenses.update(actor, id, versionFromIfMatch(ifMatch), body);
  }
}
