import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';

import { ApiKeyController } from 'src/modules/api-keys/api-key.controller';
import { ApiKeyEntity } from 'src/modules/api-keys/api-key.entity';
import { ApiKeyRepository } from 'src/modules/api-keys/api-key.repository';
import { ApiKeyService } from 'src/modules/api-keys/api-key.service';

@Module({
  imports: [TypeOrmModule.forFeature([ApiKeyEntity])],
  controllers: [ApiKeyController],
  providers: [ApiKeyRepository, ApiKeyService],
  exports: [ApiKeyService],
})
export class ApiKeyModule {}
