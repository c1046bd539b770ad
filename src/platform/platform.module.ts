import { Global, Module } from '@nestjs/common';

import { APP_CONFIG } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';
import { Clock } from 'src/platform/clock';
import { KeyedHash } from 'src/platform/crypto/keyed-hash';
import { Readiness } from 'src/platform/health/readiness';

/** Cross-cutting services every module may inject: the clock, the keyed hash of bearer secrets,
 * and the registry of readiness checks. */
@Global()
@Module({
  providers: [
    Clock,
    Readiness,
    {
      provide: KeyedHash,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => new KeyedHash(config.secrets.hashing),
    },
  ],
  exports: [Clock, KeyedHash, Readiness],
})
export class PlatformModule {}
