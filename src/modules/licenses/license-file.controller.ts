import { Body, Controller, HttpCode, Param, ParseUUIDPipe, Post } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';

import { CheckOutDto, KeyCheckOutDto, LicenseFileDto } from 'src/modules/licenses/license.dto';
import { LicenseFileService } from 'src/modules/licenses/license-file.service';
import type { Actor } from 'src/platform/auth/actor';
import { Authenticated, CurrentActor } from 'src/platform/auth/authenticated.decorator';
import { Permission } from 'src/platform/auth/permission';
import { Public } from 'src/platform/auth/public.decorator';
import { Idempotent } from 'src/platform/http/idempotency';
import { ValidateRateLimited } from 'src/platform/http/rate-limit';
import { ClientMeta } from 'src/platform/http/request-meta';
import type { RequestMeta } from 'src/platform/http/request-meta';

const REFUSALS =
  '422: LICENSE_SUSPENDED, LICENSE_REVOKED, LICENSE_EXPIRED, LICENSE_OVERDUE, LICENSE_FILE_TTL_TOO_SHORT, ' +
  'LICENSE_FILE_TTL_TOO_LONG, LICENSE_FILE_TTL_EXCEEDS_CHECK_IN';
const KEY_REFUSALS = 'LICENSE_KEY_REQUIRED, LICENSE_KEY_MISMATCH, LICENSE_KEY_UNUSED';

/** Check-out: signed (optionally encrypted) license files for offline use; docs/license-file.md. */
@ApiTags('license-files')
@Controller()
export class LicenseFileController {
  constructor(private readonly files: LicenseFileService) {}

  @Post('licenses/:id/actions/check-out')
  @HttpCode(200)
  @Authenticated(Permission.LicenseCheckOut)
  @Idempotent()
  @ApiOkResponse({ type: LicenseFileDto, description: `${REFUSALS}, ${KEY_REFUSALS}` })
  checkOutLicense(
    @CurrentActor() actor: Actor,
    @Param('id', ParseUUIDPipe) id: string,
    @Body() body: CheckOutDto,
  ): Promise<LicenseFileDto> {
    return this.files.checkOutLicense(actor, id, body);
  }

  @Post('machines/:id/actions/check-out')
  @HttpCode(200)
  @Authenticated(Permission.LicenseCheckOut)
  @Idempotent()
  @ApiOkResponse({
    type: LicenseFileDto,
    description: `A file bound to the machine (and, encrypted, to its fingerprint). ${REFUSALS}, ${KEY_REFUSALS}`,
  })
  checkOutMachine(
    @CurrentActor() actor: Actor,
    @Param('id', ParseUUIDPipe) id: string,
    @Body() body: CheckOutDto,
  ): Promise<LicenseFileDto> {
    return this.files.checkOutMachine(actor, id, body);
  }

  @Post('licenses/actions/check-out')
  @HttpCode(200)
  @Public()
  @ValidateRateLimited()
  @Idempotent()
  @ApiOkResponse({
    type: LicenseFileDto,
    description: `Public: the license key is the credential (401 INVALID_LICENSE_KEY; 404 MACHINE_NOT_FOUND for an unknown fingerprint). ${REFUSALS}`,
  })
  checkOutByKey(
    @Body() body: KeyCheckOutDto,
    @ClientMeta() meta: RequestMeta,
  ): Promise<LicenseFileDto> {
    return this.files.checkOutByKey(body, meta);
  }
}
