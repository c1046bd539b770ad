import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiProperty,
  ApiTags,
  OmitType,
} from '@nestjs/swagger';
import { IsString, Length } from 'class-validator';

import { MAX_LICENSE_KEY_LENGTH } from 'src/modules/licenses/license-key';
import { ActivateMachineDto, MachineDto } from 'src/modules/licenses/license.dto';
import { MachineKeyService } from 'src/modules/licenses/machine-key.service';
import { HEARTBEAT_REFUSALS } from 'src/modules/licenses/machine.service';
import { Public } from 'src/platform/auth/public.decorator';
import { ValidateRateLimited } from 'src/platform/http/rate-limit';
import { ClientMeta } from 'src/platform/http/request-meta';
import type { RequestMeta } from 'src/platform/http/request-meta';

class KeyActivationDto extends OmitType(ActivateMachineDto, ['licenseId'] as const) {
  @ApiProperty({ description: 'The license key: the credential of this call' })
  @IsString()
  @Length(1, MAX_LICENSE_KEY_LENGTH)
  key: string;
}

/** A machine of the license, named by its fingerprint: heartbeat and deactivation from the app. */
class KeyMachineDto {
  @ApiProperty() @IsString() @Length(1, MAX_LICENSE_KEY_LENGTH) key: string;
  @ApiProperty() @IsString() @Length(1, 255) fingerprint: string;
}

/**
 * For apps in the field, which hold a license key and nothing else: activate this machine, keep its
 * heartbeat, and deactivate it (uninstall, move to another machine). The key is the credential (401 INVALID_LICENSE_KEY when it matches no license); seat limits
 * and the audit trail are the same as for activations made with an API key.
 */
@ApiTags('machines')
@Controller('licenses/actions')
export class MachineKeyController {
  constructor(private readonly machines: MachineKeyService) {}

  @Post('activate-machine')
  @Public()
  @ValidateRateLimited()
  @ApiCreatedResponse({
    type: MachineDto,
    description: '422 TOO_MANY_MACHINES when the license is full',
  })
  activate(@Body() body: KeyActivationDto, @ClientMeta() meta: RequestMeta): Promise<MachineDto> {
    const { key, ...machine } = body;
    return this.machines.activate(key, machine, meta);
  }

  @Post('heartbeat')
  @HttpCode(200)
  @Public()
  @ValidateRateLimited()
  @ApiOkResponse({ type: MachineDto, description: HEARTBEAT_REFUSALS })
  heartbeat(@Body() body: KeyMachineDto, @ClientMeta() meta: RequestMeta): Promise<MachineDto> {
    return this.machines.heartbeat(body.key, body.fingerprint, meta);
  }

  @Post('deactivate-machine')
  @HttpCode(204)
  @Public()
  @ValidateRateLimited()
  @ApiNoContentResponse({
    description: 'Deactivated; the seat is free (404 MACHINE_NOT_FOUND for an unknown fingerprint)',
  })
  deactivate(@Body() body: KeyMachineDto, @ClientMeta() meta: RequestMeta): Promise<void> {
    return this.machines.deactivate(body.key, body.fingerprint, meta);
  }
}
