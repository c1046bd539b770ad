import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  ParseUUIDPipe,
  Post,
} from '@nestjs/common';
import { ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';

import {
  ChangePasswordDto,
  LoginDto,
  LoginResultDto,
  MeDto,
  MfaVerifyDto,
  RefreshDto,
  SessionDto,
} from 'src/modules/admins/admin.dto';
import { AdminService } from 'src/modules/admins/admin.service';
import { AuthService } from 'src/modules/admins/auth.service';
import type { Actor } from 'src/platform/auth/actor';
import { AuthenticatedAdmin, CurrentActor } from 'src/platform/auth/authenticated.decorator';
import { Public } from 'src/platform/auth/public.decorator';
import { permissionsOf } from 'src/platform/auth/roles';
import { AuthRateLimited } from 'src/platform/http/rate-limit';
import { ClientMeta } from 'src/platform/http/request-meta';
import type { RequestMeta } from 'src/platform/http/request-meta';

@ApiTags('auth')
@Controller('auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly admins: AdminService,
  ) {}

  @Post('login')
  @HttpCode(200)
  @Public()
  @AuthRateLimited()
  @ApiOkResponse({ type: LoginResultDto })
  login(@Body() body: LoginDto, @ClientMeta() meta: RequestMeta): Promise<LoginResultDto> {
    return this.auth.login(body.email, body.password, meta);
  }

  @Post('mfa/verify')
  @HttpCode(200)
  @Public()
  @AuthRateLimited()
  @ApiOkResponse({ type: LoginResultDto })
  verifyMfa(@Body() body: MfaVerifyDto, @ClientMeta() meta: RequestMeta): Promise<LoginResultDto> {
    return this.auth.verifyMfa(body, meta);
  }

  @Post('refresh')
  @HttpCode(200)
  @Public()
  @AuthRateLimited()
  @ApiOkResponse({ type: LoginResultDto })
  refresh(@Body() body: RefreshDto, @ClientMeta() meta: RequestMeta): Promise<LoginResultDto> {
    return this.auth.refresh(body.refreshToken, meta);
  }

  @Post('logout')
  @HttpCode(204)
  @AuthenticatedAdmin({ duringEnrollment: true })
  @ApiNoContentResponse()
  logout(@CurrentActor() actor: Actor): Promise<void> {
    return this.auth.logout(actor);
  }

  @Get('me')
  @AuthenticatedAdmin({ duringEnrollment: true })
  @ApiOkResponse({ type: MeDto })
  async me(@CurrentActor() actor: Actor): Promise<MeDto> {
    const admin = await this.admins.get(actor.id ?? '');
    return { ...admin, permissions: [...permissionsOf(admin.roles)].sort() };
  }

  @Get('sessions')
  @AuthenticatedAdmin()
  @ApiOkResponse({ type: [SessionDto] })
  sessions(@CurrentActor() actor: Actor): Promise<SessionDto[]> {
    return this.auth.sessions(actor);
  }

  @Delete('sessions/:id')
  @HttpCode(204)
  @AuthenticatedAdmin()
  @ApiNoContentResponse()
  revokeSession(
    @CurrentActor() actor: Actor,
    @Param('id', ParseUUIDPipe) id: string,
  ): Promise<void> {
    return this.auth.revokeSession(actor, id);
  }

  @Post('password')
  @HttpCode(204)
  @AuthenticatedAdmin()
  @AuthRateLimited()
  @ApiNoContentResponse({ description: 'Changed; every other session of the admin is revoked' })
  changePassword(@CurrentActor() actor: Actor, @Body() body: ChangePasswordDto): Promise<void> {
    return this.auth.changePassword(actor, body.currentPassword, body.newPassword);
  }
}
