import { Global, Module } from '@nestjs/common';

import { APP_CONFIG } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';
import { Clock } from 'src/platform/clock';
import { KeyedHash } from 'src/platform/crypto/keyed-hash';

/** Cross-cutting services every module may inject: the clock and the keyed hash of bearer secrets. */
@Global()
@Module({
  providers: [
    Clock,
    {
      provide: KeyedHash,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => new KeyedHash(config.secrets.hashing),
    },
  ],
  exports: [Clock, KeyedHash],
})
export class PlatformModule {}
