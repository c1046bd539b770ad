import { Global, Module } from '@nestjs/common';

import { APP_CONFIG } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';
import { Clock } from 'src/platform/clock';
import { KeyedHash } from 'src/platform/crypto/keyed-hash';
import { GeoIp } from 'src/platform/geoip/geoip';
import { Readiness } from 'src/platform/health/readiness';
import { Metrics } from 'src/platform/metrics/metrics';

/** Cross-cutting services every module may inject: the clock, the keyed hash of bearer secrets,
 * the registry of readiness checks, the metrics registry and the GeoIP country lookup. */
@Global()
@Module({
  providers: [
    Clock,
    Readiness,
    Metrics,
    {
      provide: KeyedHash,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => new KeyedHash(config.secrets.hashing),
    },
    {
      provide: GeoIp,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) =>
        config.reports.geoipDbFile === undefined
          ? GeoIp.disabled()
          : GeoIp.open(config.reports.geoipDbFile),
    },
  ],
  exports: [Clock, KeyedHash, Readiness, Metrics, GeoIp],
})
export class PlatformModule {}
