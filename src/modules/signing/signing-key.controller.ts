import { Body, Controller, Get, Header, HttpCode, Param, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';

import {
  GenerateSigningKeyDto,
  JwksDto,
  SigningKeyDto,
  SigningKeyListDto,
} from 'src/modules/signing/signing.dto';
import { SigningService } from 'src/modules/signing/signing.service';
import type { Actor } from 'src/platform/auth/actor';
import { Authenticated, CurrentActor } from 'src/platform/auth/authenticated.decorator';
import { Permission } from 'src/platform/auth/permission';
import { Public } from 'src/platform/auth/public.decorator';
import { Idempotent } from 'src/platform/http/idempotency';

/** The key ring. Changing which key signs requires a recent MFA verification and is audited. */
@ApiTags('signing')
@Controller('signing-keys')
export class SigningKeyController {
  constructor(private readonly signing: SigningService) {}

  @Get()
  @Authenticated(Permission.SigningKeyRead)
  @ApiOkResponse({ type: SigningKeyListDto })
  async list(): Promise<SigningKeyListDto> {
    return { data: await this.signing.list() };
  }

  @Get(':kid')
  @Authenticated(Permission.SigningKeyRead)
  @ApiOkResponse({ type: SigningKeyDto })
  get(@Param('kid') kid: string): Promise<SigningKeyDto> {
    return this.signing.get(kid);
  }

  @Post()
  @Authenticated(Permission.SigningKeyCreate, { mfa: 'recent' })
  @Idempotent()
  @ApiCreatedResponse({
    type: SigningKeyDto,
    description: 'The new key, PENDING (published, not signing)',
  })
  generate(
    @CurrentActor() actor: Actor,
    @Body() body: GenerateSigningKeyDto,
  ): Promise<SigningKeyDto> {
    return this.signing.generate(actor, body.purpose, body.algorithm);
  }

  @Post('actions/rotate')
  @HttpCode(200)
  @Authenticated(Permission.SigningKeyRotate, { mfa: 'recent' })
  @Idempotent()
  @ApiOkResponse({ type: SigningKeyDto, description: 'Generates a key and activates it at once' })
  rotate(
    @CurrentActor() actor: Actor,
    @Body() body: GenerateSigningKeyDto,
  ): Promise<SigningKeyDto> {
    return this.signing.rotate(actor, body.purpose, body.algorithm);
  }

  @Post(':kid/actions/activate')
  @HttpCode(200)
  @Authenticated(Permission.SigningKeyRotate, { mfa: 'recent' })
  @Idempotent()
  @ApiOkResponse({
    type: SigningKeyDto,
    description: 'The key that signed before becomes RETIRING',
  })
  activate(@CurrentActor() actor: Actor, @Param('kid') kid: string): Promise<SigningKeyDto> {
    return this.signing.activate(actor, kid);
  }

  @Post(':kid/actions/revoke')
  @HttpCode(200)
  @Authenticated(Permission.SigningKeyRotate, { mfa: 'recent' })
  @Idempotent()
  @ApiOkResponse({
    type: SigningKeyDto,
    description:
      'For a compromised key: removed from /v1/keys at once, so nothing it signed verifies any more. ' +
      '409 for the ACTIVE key: rotate first',
  })
  revoke(@CurrentActor() actor: Actor, @Param('kid') kid: string): Promise<SigningKeyDto> {
    return this.signing.revoke(actor, kid);
  }

  @Post(':kid/actions/retire')
  @HttpCode(200)
  @Authenticated(Permission.SigningKeyRotate, { mfa: 'recent' })
  @Idempotent()
  @ApiOkResponse({
    type: SigningKeyDto,
    description: '409 for the ACTIVE key: activate another first',
  })
  retire(@CurrentActor() actor: Actor, @Param('kid') kid: string): Promise<SigningKeyDto> {
    return this.signing.retire(actor, kid);
  }
}

/** Public keys for anyone verifying what Tessera signed: license files, validations, webhooks, checkpoints. */
@ApiTags('signing')
@Controller('keys')
export class JwksController {
  constructor(private readonly signing: SigningService) {}

  @Get()
  @Public()
  @Header('Cache-Control', 'public, max-age=300')
  @ApiOkResponse({
    type: JwksDto,
    description: 'JWKS (RFC 7517) of every non-retired and recently retired key',
  })
  jwks(): Promise<JwksDto> {
    return this.signing.jwks();
  }
}
