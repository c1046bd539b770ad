import { Body, Controller, HttpCode, Param, ParseUUIDPipe, Post } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';

import {
  ChangePolicyDto,
  EntitlementCodesDto,
  LicenseDto,
  UsageDto,
} from 'src/modules/licenses/license.dto';
import { LicenseEntitlementService } from 'src/modules/licenses/license-entitlement.service';
import { LicenseUsageService } from 'src/modules/licenses/license-usage.service';
import { LicenseService } from 'src/modules/licenses/license.service';
import type { Actor } from 'src/platform/auth/actor';
import { Authenticated, CurrentActor } from 'src/platform/auth/authenticated.decorator';
import { Permission } from 'src/platform/auth/permission';
import { Idempotent } from 'src/platform/http/idempotency';

/** Lifecycle actions as endpoints; each is idempotent under an Idempotency-Key. */
@ApiTags('licenses')
@Controller('licenses/:id')
export class LicenseActionsController {
  constructor(
    private readonly licenses: LicenseService,
    private readonly usage: LicenseUsageService,
    private readonly grants: LicenseEntitlementService,
  ) {}

  @Post('actions/suspend')
  @HttpCode(200)
  @Authenticated(Permission.LicenseSuspend)
  @Idempotent()
  @ApiOkResponse({ type: LicenseDto })
  suspend(
    @CurrentActor() actor: Actor,
    @Param('id', ParseUUIDPipe) id: string,
  ): Promise<LicenseDto> {
    return this.licenses.suspend(actor, id);
  }

  @Post('actions/reinstate')
  @HttpCode(200)
  @Authenticated(Permission.LicenseReinstate)
  @Idempotent()
  @ApiOkResponse({ type: LicenseDto })
  reinstate(
    @CurrentActor() actor: Actor,
    @Param('id', ParseUUIDPipe) id: string,
  ): Promise<LicenseDto> {
    return this.licenses.reinstate(actor, id);
  }

  @Post('actions/renew')
  @HttpCode(200)
  @Authenticated(Permission.LicenseRenew)
  @Idempotent()
  @ApiOkResponse({ type: LicenseDto })
  renew(@CurrentActor() actor: Actor, @Param('id', ParseUUIDPipe) id: string): Promise<LicenseDto> {
    return this.licenses.renew(actor, id);
  }

  @Post('actions/revoke')
  @HttpCode(200)
  @Authenticated(Permission.LicenseRevoke)
  @Idempotent()
  @ApiOkResponse({ type: LicenseDto })
  revoke(
    @CurrentActor() actor: Actor,
    @Param('id', ParseUUIDPipe) id: string,
  ): Promise<LicenseDto> {
    return this.licenses.revoke(actor, id);
  }

  @Post('actions/check-in')
  @HttpCode(200)
  @Authenticated(Permission.LicenseCheckIn)
  @Idempotent()
  @ApiOkResponse({ type: LicenseDto })
  checkIn(
    @CurrentActor() actor: Actor,
    @Param('id', ParseUUIDPipe) id: string,
  ): Promise<LicenseDto> {
    return this.licenses.checkIn(actor, id);
  }

  @Post('actions/change-policy')
  @HttpCode(200)
  @Authenticated(Permission.LicenseChangePolicy)
  @Idempotent()
  @ApiOkResponse({ type: LicenseDto })
  changePolicy(
    @CurrentActor() actor: Actor,
    @Param('id', ParseUUIDPipe) id: string,
    @Body() body: ChangePolicyDto,
  ): Promise<LicenseDto> {
    return this.licenses.changePolicy(actor, id, body.policyId);
  }

  @Post('actions/attach-entitlements')
  @HttpCode(200)
  @Authenticated(Permission.LicenseEntitlementsUpdate)
  @Idempotent()
  @ApiOkResponse({ type: LicenseDto })
  attach(
    @CurrentActor() actor: Actor,
    @Param('id', ParseUUIDPipe) id: string,
    @Body() body: EntitlementCodesDto,
  ): Promise<LicenseDto> {
    return this.grants.attach(actor, id, body.entitlements);
  }

  @Post('actions/detach-entitlements')
  @HttpCode(200)
  @Authenticated(Permission.LicenseEntitlementsUpdate)
  @Idempotent()
  @ApiOkResponse({ type: LicenseDto })
  detach(
    @CurrentActor() actor: Actor,
    @Param('id', ParseUUIDPipe) id: string,
    @Body() body: EntitlementCodesDto,
  ): Promise<LicenseDto> {
    return this.grants.detach(actor, id, body.entitlements);
  }

  @Post('usage/increment')
  @HttpCode(200)
  @Authenticated(Permission.LicenseUsageUpdate)
  @Idempotent()
  @ApiOkResponse({ type: LicenseDto })
  increment(
    @CurrentActor() actor: Actor,
    @Param('id', ParseUUIDPipe) id: string,
    @Body() body: UsageDto,
  ): Promise<LicenseDto> {
    return this.usage.increment(actor, id, body.amount ?? 1);
  }

  @Post('usage/decrement')
  @HttpCode(200)
  @Authenticated(Permission.LicenseUsageUpdate)
  @Idempotent()
  @ApiOkResponse({ type: LicenseDto })
  decrement(
    @CurrentActor() actor: Actor,
    @Param('id', ParseUUIDPipe) id: string,
    @Body() body: UsageDto,
  ): Promise<LicenseDto> {
    return this.usage.decrement(actor, id, body.amount ?? 1);
  }

  @Post('usage/reset')
  @HttpCode(200)
  @Authenticated(Permission.LicenseUsageUpdate)
  @Idempotent()
  @ApiOkResponse({ type: LicenseDto })
  reset(@CurrentActor() actor: Actor, @Param('id', ParseUUIDPipe) id: string): Promise<LicenseDto> {
    return this.usage.reset(actor, id);
  }
}
