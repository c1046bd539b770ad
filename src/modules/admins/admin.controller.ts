import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  Param,
  ParseUUIDPipe,
  Patch,
  Post,
  Put,
  Query,
} from '@nestjs/common';
import { ApiCreatedResponse, ApiHeader, ApiOkResponse, ApiTags } from '@nestjs/swagger';

import {
  AdminDto,
  AdminListDto,
  AssignRolesDto,
  CreateAdminDto,
  MfaPolicyDto,
  UpdateAdminDto,
} from 'src/modules/admins/admin.dto';
import { AdminService } from 'src/modules/admins/admin.service';
import type { Actor } from 'src/platform/auth/actor';
import { Authenticated, CurrentActor } from 'src/platform/auth/authenticated.decorator';
import { Permission } from 'src/platform/auth/permission';
import { versionFromIfMatch } from 'src/platform/http/etag';
import { PageQueryDto } from 'src/platform/http/pagination';

@ApiTags('admins')
@Controller('admins')
export class AdminController {
  constructor(private readonly admins: AdminService) {}

  @Get()
  @Authenticated(Permission.AdminRead)
  @ApiOkResponse({ type: AdminListDto })
  list(@Query() query: PageQueryDto): Promise<AdminListDto> {
    return this.admins.list(query.limit, query.cursor);
  }

  @Post()
  @Authenticated(Permission.AdminCreate, { mfa: 'recent' })
  @ApiCreatedResponse({ type: AdminDto })
  create(@CurrentActor() actor: Actor, @Body() body: CreateAdminDto): Promise<AdminDto> {
    return this.admins.create(actor, body);
  }

  @Get(':id')
  @Authenticated(Permission.AdminRead)
  @ApiOkResponse({ type: AdminDto })
  get(@Param('id', ParseUUIDPipe) id: string): Promise<AdminDto> {
    return this.admins.get(id);
  }

  @Patch(':id')
  @Authenticated(Permission.AdminUpdate)
  @ApiHeader({ name: 'If-Match', required: true, description: 'ETag from GET, e.g. W/"3"' })
  @ApiOkResponse({ type: AdminDto })
  update(
    @CurrentActor() actor: Actor,
    @Param('id', ParseUUIDPipe) id: string,
    @Headers('if-match') ifMatch: string | undefined,
    @Body() body: UpdateAdminDto,
  ): Promise<AdminDto> {
    return this.admins.update(actor, id, versionFromIfMatch(ifMatch), body);
  }

  @Delete(':id')
  @Authenticated(Permission.AdminDisable, { mfa: 'recent' })
  @ApiOkResponse({ type: AdminDto, description: 'Disabled, not deleted; all sessions revoked' })
  disable(@CurrentActor() actor: Actor, @Param('id', ParseUUIDPipe) id: string): Promise<AdminDto> {
    return this.admins.disable(actor, id);
  }

  @Post(':id/actions/enable')
  @HttpCode(200)
  @Authenticated(Permission.AdminDisable, { mfa: 'recent' })
  @ApiOkResponse({ type: AdminDto })
  enable(@CurrentActor() actor: Actor, @Param('id', ParseUUIDPipe) id: string): Promise<AdminDto> {
    return this.admins.enable(actor, id);
  }

  @Put(':id/roles')
  @Authenticated(Permission.AdminRoleAssign, { mfa: 'recent' })
  @ApiOkResponse({ type: AdminDto })
  assignRoles(
    @CurrentActor() actor: Actor,
    @Param('id', ParseUUIDPipe) id: string,
    @Body() body: AssignRolesDto,
  ): Promise<AdminDto> {
    return this.admins.assignRoles(actor, id, body.roles);
  }
}

@ApiTags('settings')
@Controller('settings')
export class SettingsController {
  constructor(private readonly admins: AdminService) {}

  @Get('mfa-policy')
  @Authenticated(Permission.SettingsRead)
  @ApiOkResponse({ type: MfaPolicyDto })
  async mfaPolicy(): Promise<MfaPolicyDto> {
    return { required: await this.admins.mfaRequired() };
  }

  @Put('mfa-policy')
  @Authenticated(Permission.SettingsUpdate, { mfa: 'recent' })
  @ApiOkResponse({ type: MfaPolicyDto })
  setMfaPolicy(@CurrentActor() actor: Actor, @Body() body: MfaPolicyDto): Promise<MfaPolicyDto> {
    return this.admins.setMfaRequired(actor, body.required);
  }
}
