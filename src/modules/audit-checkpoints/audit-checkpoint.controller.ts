import { Controller, Get, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiProperty, ApiTags, PickType } from '@nestjs/swagger';

import { AuditCheckpointService } from 'src/modules/audit-checkpoints/audit-checkpoint.service';
import type { CheckpointVerifyResult } from 'src/modules/audit-checkpoints/audit-checkpoint.service';
import { Authenticated } from 'src/platform/auth/authenticated.decorator';
import { Permission } from 'src/platform/auth/permission';
import { Idempotent } from 'src/platform/http/idempotency';
import { PageQueryDto } from 'src/platform/http/pagination';

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

/** `?limit=` only: checkpoints are few (one per interval at most), newest first. */
class CheckpointListQueryDto extends PickType(PageQueryDto, ['limit'] as const) {}

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
