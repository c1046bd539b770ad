import { Controller, Get, Post, Query } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiOkResponse,
  ApiProperty,
  ApiPropertyOptional,
  ApiTags,
} from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

import { AuditCheckpointService } from 'src/modules/signing/audit-checkpoint.service';
import type { CheckpointVerifyResult } from 'src/modules/signing/audit-checkpoint.service';
import { Authenticated } from 'src/platform/auth/authenticated.decorator';
import { Permission } from 'src/platform/auth/permission';
import { Idempotent } from 'src/platform/http/idempotency';

class AuditCheckpointDto {
  @ApiProperty() id: string;
  @ApiProperty({ description: 'Audit chain sequence the checkpoint pins' }) sequence: number;
  @ApiProperty({ description: 'Hash of the event at that sequence' }) hash: string;
  @ApiProperty() kid: string;
  @ApiProperty({ enum: ['EdDSA', 'ES256'] }) algorithm: string;
  @ApiProperty({
    description: 'Compact JWS, payload `{ seq, hash, iat }`, verifiable with /v1/keys',
  })
  jws: string;
  @ApiProperty() createdAt: string;
}

class AuditCheckpointListDto {
  @ApiProperty({ type: [AuditCheckpointDto] }) data: AuditCheckpointDto[];
}

class CheckpointProblemDto {
  @ApiProperty() checkpointId: string;
  @ApiProperty() sequence: number;
  @ApiProperty({ enum: ['BAD_SIGNATURE', 'STATEMENT_MISMATCH', 'EVENT_MISSING', 'HASH_MISMATCH'] })
  reason: string;
}

class CheckpointVerifyDto {
  @ApiProperty() ok: boolean;
  @ApiProperty() checked: number;
  @ApiProperty({ type: [CheckpointProblemDto] }) problems: CheckpointProblemDto[];
}

class CheckpointListQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 20 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit: number = 20;
}

@ApiTags('audit')
@Controller('audit/checkpoints')
export class AuditCheckpointController {
  constructor(private readonly checkpoints: AuditCheckpointService) {}

  @Get()
  @Authenticated(Permission.AuditRead)
  @ApiOkResponse({ type: AuditCheckpointListDto, description: 'Newest first' })
  async list(@Query() query: CheckpointListQueryDto): Promise<AuditCheckpointListDto> {
    return { data: await this.checkpoints.list(query.limit) };
  }

  @Post()
  @Authenticated(Permission.AuditCheckpoint)
  @Idempotent()
  @ApiCreatedResponse({ type: AuditCheckpointDto, description: 'Signs the current chain head' })
  create(): Promise<AuditCheckpointDto> {
    return this.checkpoints.create();
  }

  @Get('verify')
  @Authenticated(Permission.AuditVerify)
  @ApiOkResponse({ type: CheckpointVerifyDto })
  verify(): Promise<CheckpointVerifyResult> {
    return this.checkpoints.verify();
  }
}
