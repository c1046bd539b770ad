import { Module } from '@nestjs/common';

import { MetricsServer } from 'src/platform/metrics/metrics.server';
import { PlatformMetrics } from 'src/platform/metrics/platform.metrics';

/**
 * The application's metrics listener and the platform's own metrics. The registry itself (`Metrics`) is
 * provided by PlatformModule, so that every module, in the application and in the medium tests, can add to it.
 */
@Module({
  providers: [PlatformMetrics, MetricsServer],
})
export class MetricsModule {}
