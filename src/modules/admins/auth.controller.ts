import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  Param,
  ParseUUIDPipe,
  Post,
  Req,
  Res,
} from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
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
import { InvalidRefreshToken } from 'src/modules/admins/admin.errors';
import {
  clearSessionCookie,
  deliverSession,
  refreshCookie,
  wantsCookie,
} from 'src/modules/admins/refresh-cookie';
import { APP_CONFIG } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';
import type { Actor } from 'src/platform/auth/actor';
import { AuthenticatedAdmin, CurrentActor } from 'src/platform/auth/authenticated.decorator';
import { Public } from 'src/platform/auth/public.decorator';
import { AuthRateLimited } from 'src/platform/http/rate-limit';
import { ClientMeta } from 'src/platform/http/request-meta';
import type { RequestMeta } from 'src/platform/http/request-meta';

@ApiTags('auth')
@Controller('auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly admins: AdminService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  private session(request: FastifyRequest, reply: FastifyReply, result: LoginResultDto) {
    return deliverSession(request, reply, result, this.config.auth.refreshTokenTtlDays);
  }

  @Post('login')
  @HttpCode(200)
  @Public()
  @AuthRateLimited()
  @ApiOkResponse({ type: LoginResultDto })
  async login(
    @Body() body: LoginDto,
    @ClientMeta() meta: RequestMeta,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<LoginResultDto> {
    return this.session(request, reply, await this.auth.login(body.email, body.password, meta));
  }

  @Post('mfa/verify')
  @HttpCode(200)
  @Public()
  @AuthRateLimited()
  @ApiOkResponse({ type: LoginResultDto })
  async verifyMfa(
    @Body() body: MfaVerifyDto,
    @ClientMeta() meta: RequestMeta,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<LoginResultDto> {
    return this.session(request, reply, await this.auth.verifyMfa(body, meta));
  }

  @Post('refresh')
  @HttpCode(200)
  @Public()
  @AuthRateLimited()
  @ApiOkResponse({ type: LoginResultDto })
  async refresh(
    @Body() body: RefreshDto,
    @ClientMeta() meta: RequestMeta,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<LoginResultDto> {
    const token = body.refreshToken ?? (wantsCookie(request) ? refreshCookie(request) : undefined);
    if (token === undefined) {
      throw new InvalidRefreshToken();
    }
    return this.session(request, reply, await this.auth.refresh(token, meta));
  }

  @Post('logout')
  @HttpCode(204)
  @AuthenticatedAdmin({ duringEnrollment: true })
  @ApiNoContentResponse()
  async logout(
    @CurrentActor() actor: Actor,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<void> {
    await this.auth.logout(actor);
    clearSessionCookie(request, reply);
  }

  @Get('me')
  @AuthenticatedAdmin({ duringEnrollment: true })
  @ApiOkResponse({ type: MeDto })
  async me(@CurrentActor() actor: Actor): Promise<MeDto> {
    // The permissions this request was authorised with: what the console offers is what the server checks.
    const admin = await this.admins.get(actor.id ?? '');
    return { ...admin, permissions: [...actor.permissions].sort() };
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
