import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';

import { APP_CONFIG } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';
import { AuditModule } from 'src/modules/audit/audit.module';
import { Pkcs11Signer } from 'src/modules/signing/pkcs11.signer';
import { SIGNER } from 'src/modules/signing/signer';
import type { Signer } from 'src/modules/signing/signer';
import { JwksController, SigningKeyController } from 'src/modules/signing/signing-key.controller';
import { SigningKeyCreation } from 'src/modules/signing/signing-key-creation.service';
import { SigningKeyOrphanService } from 'src/modules/signing/signing-key-orphans.service';
import { SigningKeyEntity } from 'src/modules/signing/signing-key.entity';
import { SigningKeyRepository } from 'src/modules/signing/signing-key.repository';
import { SigningMetrics } from 'src/modules/signing/signing.metrics';
import { SigningService } from 'src/modules/signing/signing.service';
import { SoftwareSigner } from 'src/modules/signing/software.signer';

/** Chooses the signer from configuration; an HSM that cannot be opened stops the boot with the reason. */
export function createSigner(config: AppConfig): Signer {
  const pkcs11 = config.signing.pkcs11;
  if (config.signing.backend === 'software' || pkcs11 === undefined) {
    return new SoftwareSigner(config.secrets.encryption);
  }
  const signer = new Pkcs11Signer(pkcs11);
  signer.open();
  return signer;
}

@Module({
  imports: [TypeOrmModule.forFeature([SigningKeyEntity]), AuditModule],
  controllers: [SigningKeyController, JwksController],
  providers: [
    { provide: SIGNER, inject: [APP_CONFIG], useFactory: createSigner },
    SigningKeyRepository,
    SigningMetrics,
    SigningKeyCreation,
    SigningService,
    SigningKeyOrphanService,
  ],
  exports: [SigningService, SigningKeyOrphanService],
})
export class SigningModule {}
