import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  ParseUUIDPipe,
  Post,
  Query,
} from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';

import {
  ActivateMachineDto,
  MachineDto,
  MachineListDto,
  MachineQueryDto,
} from 'src/modules/licenses/license.dto';
import { HEARTBEAT_REFUSALS, MachineService } from 'src/modules/licenses/machine.service';
import type { Actor } from 'src/platform/auth/actor';
import { Authenticated, CurrentActor } from 'src/platform/auth/authenticated.decorator';
import { Permission } from 'src/platform/auth/permission';
import { Idempotent } from 'src/platform/http/idempotency';

@ApiTags('machines')
@Controller('machines')
export class MachineController {
  constructor(private readonly machines: MachineService) {}

  @Post()
  @Authenticated(Permission.MachineActivate)
  @Idempotent()
  @ApiCreatedResponse({
    type: MachineDto,
    description: '422 TOO_MANY_MACHINES when the license is full',
  })
  activate(@CurrentActor() actor: Actor, @Body() body: ActivateMachineDto): Promise<MachineDto> {
    return this.machines.activate(actor, body);
  }

  @Get()
  @Authenticated(Permission.MachineRead)
  @ApiOkResponse({ type: MachineListDto })
  list(@Query() query: MachineQueryDto): Promise<MachineListDto> {
    return this.machines.list(query.licenseId, query.limit, query.cursor);
  }

  @Get(':id')
  @Authenticated(Permission.MachineRead)
  @ApiOkResponse({ type: MachineDto })
  get(@Param('id', ParseUUIDPipe) id: string): Promise<MachineDto> {
    return this.machines.get(id);
  }

  @Delete(':id')
  @HttpCode(204)
  @Authenticated(Permission.MachineDeactivate)
  @ApiNoContentResponse({ description: 'Deactivated; the seat is free' })
  deactivate(@CurrentActor() actor: Actor, @Param('id', ParseUUIDPipe) id: string): Promise<void> {
    return this.machines.deactivate(actor, id);
  }

  @Post(':id/actions/heartbeat')
  @HttpCode(200)
  @Authenticated(Permission.MachineHeartbeat)
  @ApiOkResponse({ type: MachineDto, description: HEARTBEAT_REFUSALS })
  heartbeat(
    @CurrentActor() actor: Actor,
    @Param('id', ParseUUIDPipe) id: string,
  ): Promise<MachineDto> {
    return this.machines.heartbeat(actor, id);
  }
}
