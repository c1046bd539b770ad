import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';

import { MfaEnrollmentDto, RecoveryCodesDto, TotpCodeDto } from 'src/modules/admins/admin.dto';
import { MfaService } from 'src/modules/admins/mfa.service';
import type { Actor } from 'src/platform/auth/actor';
import { AuthenticatedAdmin, CurrentActor } from 'src/platform/auth/authenticated.decorator';
import { AuthRateLimited } from 'src/platform/http/rate-limit';

@ApiTags('auth')
@Controller('auth/mfa')
export class MfaController {
  constructor(private readonly mfa: MfaService) {}

  @Post('enroll')
  @HttpCode(200)
  @AuthenticatedAdmin({ duringEnrollment: true })
  @ApiOkResponse({ type: MfaEnrollmentDto })
  enroll(@CurrentActor() actor: Actor): Promise<MfaEnrollmentDto> {
    return this.mfa.enroll(actor);
  }

  @Post('confirm')
  @HttpCode(200)
  @AuthenticatedAdmin({ duringEnrollment: true })
  @AuthRateLimited()
  @ApiOkResponse({
    type: RecoveryCodesDto,
    description: 'MFA is on; the recovery codes are shown this once',
  })
  confirm(@CurrentActor() actor: Actor, @Body() body: TotpCodeDto): Promise<RecoveryCodesDto> {
    return this.mfa.confirm(actor, body.code);
  }

  @Post('step-up')
  @HttpCode(200)
  @AuthenticatedAdmin()
  @AuthRateLimited()
  @ApiOkResponse({ description: 'Sensitive operations are allowed for MFA_STEP_UP_MINUTES' })
  stepUp(
    @CurrentActor() actor: Actor,
    @Body() body: TotpCodeDto,
  ): Promise<{ mfaVerifiedAt: string }> {
    return this.mfa.stepUp(actor, body.code);
  }

  @Post('disable')
  @HttpCode(204)
  @AuthenticatedAdmin({ mfa: 'recent' })
  @ApiNoContentResponse()
  disable(@CurrentActor() actor: Actor, @Body() body: TotpCodeDto): Promise<void> {
    return this.mfa.disable(actor, body.code);
  }

  @Post('recovery-codes')
  @HttpCode(200)
  @AuthenticatedAdmin({ mfa: 'recent' })
  @ApiOkResponse({ type: RecoveryCodesDto })
  regenerate(@CurrentActor() actor: Actor): Promise<RecoveryCodesDto> {
    return this.mfa.regenerateRecoveryCodes(actor);
  }
}
